#include "oci/state.hpp"

#include <boost/json.hpp>

#include "oci/json_pretty.hpp"

namespace nucleo::oci {

std::string toJson(const State& state, bool pretty) {
  boost::json::object o;
  o["ociVersion"] = state.ociVersion;
  o["id"] = state.id;
  o["status"] = state.status;
  if (state.pid > 0) o["pid"] = state.pid;
  o["bundle"] = state.bundle;
  if (!state.annotations.empty()) {
    boost::json::object a;
    for (const auto& [k, v] : state.annotations) a[k] = v;
    o["annotations"] = std::move(a);
  }
  return pretty ? prettyJson(o) : boost::json::serialize(o);
}

}  // namespace nucleo::oci
