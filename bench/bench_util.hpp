#pragma once
// Helpers the benchmark programs share: timing a command, percentiles, the
// /bin/true bundle they run, and the hybrid-host work-around for crun.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/result.hpp"

namespace nucleo::bench {

// Runs argv (argv[0] a path) with stdin/stdout/stderr on /dev/null, stderr to
// errFile when given; returns its wall time in ms, or -1 unless it exited 0.
double timed(const std::vector<std::string>& args, const std::string& errFile = "");

// "--flag value" pairs: each value goes to its flag's setter. An unknown
// flag is reported on stderr and gives false. A setter may throw on a bad
// value (std::stoi), ending the program as the benches always did.
using FlagSetters = std::map<std::string, std::function<void(const std::string&)>>;
bool parseFlags(int argc, char** argv, const FlagSetters& setters);

// The value at rank floor(p * size) of the sorted values (p in [0, 1]); 0
// when there are none.
double percentile(std::vector<double> values, double p);

// Writes dir/config.json: the bundle `src`'s config running /bin/true without
// a terminal on src/rootfs, after `edit` changed it as the caller needs.
// Errors: src/config.json unreadable or not an object, dir not writable.
template <class Edit>
Status writeTrueBundle(const std::string& src, const std::string& dir, Edit&& edit);

// crun 1.8 refuses hybrid hosts: in this process's own (new) mount namespace
// the unified hierarchy's controller list is hidden behind an empty file in
// tmp, for every runtime alike. The host's mounts are untouched. Prints a
// line when it did so.
void hideHybridControllers(const std::string& tmp);

namespace detail {
Result<boost::json::value> trueBundleConfig(const std::string& src);
Status writeBundleConfig(const std::string& dir, const boost::json::value& config);
}  // namespace detail

template <class Edit>
Status writeTrueBundle(const std::string& src, const std::string& dir, Edit&& edit) {
  TRY_ASSIGN(boost::json::value config, detail::trueBundleConfig(src));
  try {
    edit(config.as_object());
  } catch (const std::exception& e) {
    return Error::make("bundle config {}/config.json: {}", src, e.what());
  }
  return detail::writeBundleConfig(dir, config);
}

}  // namespace nucleo::bench
