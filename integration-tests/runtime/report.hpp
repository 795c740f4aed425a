#pragma once
// The helper's JSON report, and a flat view of it for comparing what two
// runtimes set up for the same config.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/result.hpp"

namespace nucleo::itest {

// One report printed by nucleo-test-helper.
struct Report {
  boost::json::object raw;
  int64_t pid = 0;
};

// Finds the first line of `output` that starts with '{' and parses it (a
// runtime may print other lines). Errors quote the output.
Result<Report> parseReport(std::string_view output);

// Inode of each /proc/self/ns/<type> of the calling (host) process.
std::map<std::string, uint64_t> hostNamespaces();

// Field name -> value as text, e.g. "caps.CapEff" -> "00000000a80425fb",
// "mount:/proc" -> "proc", "ns.pid.private" -> "true". Mount points listed in
// `presenceOnly` map to "present": runtimes mask paths with different fstypes.
using View = std::map<std::string, std::string>;
View flatten(const Report& report, const std::map<std::string, uint64_t>& hostNs,
             const std::set<std::string>& presenceOnly = {});

// "key: a=<x> b=<y>" for every key whose values differ (or is missing on one
// side), except keys in `ignore` or starting with a prefix in `ignorePrefixes`.
std::vector<std::string> differences(const View& a, const View& b,
                                     const std::set<std::string>& ignore = {},
                                     const std::vector<std::string>& ignorePrefixes = {});

// A string's contents, or any other value serialized: "created", "42".
std::string jsonText(const boost::json::value& v);

// The paths `runc spec` masks; runtimes may back them with different fstypes.
std::set<std::string> maskedPaths();

}  // namespace nucleo::itest
