#include "oci/json_pretty.hpp"

namespace nucleo::oci {
namespace {

void write(std::string& out, const boost::json::value& v, int indent) {
  auto pad = [&](int n) { out.append(static_cast<size_t>(n) * 2, ' '); };
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& kv : v.get_object()) {
      if (!first) out += ",\n";
      first = false;
      pad(indent + 1);
      out += boost::json::serialize(boost::json::value(kv.key()));
      out += ": ";
      write(out, kv.value(), indent + 1);
    }
    out += "\n";
    pad(indent);
    out += "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& item : v.get_array()) {
      if (!first) out += ",\n";
      first = false;
      pad(indent + 1);
      write(out, item, indent + 1);
    }
    out += "\n";
    pad(indent);
    out += "]";
  } else {
    out += boost::json::serialize(v);
  }
}

}  // namespace

std::string prettyJson(const boost::json::value& value) {
  std::string out;
  write(out, value, 0);
  return out;
}

}  // namespace nucleo::oci
