#pragma once
// The runtime-spec state object that `state` prints and hooks read on stdin.

#include <sys/types.h>

#include <map>
#include <string>

namespace nucleo::oci {

struct State {
  std::string ociVersion = "1.2.0";
  std::string id;
  std::string status;  // creating, created, running, stopped (and paused, as runc)
  pid_t pid = 0;       // omitted from the JSON when 0 (stopped)
  std::string bundle;
  std::map<std::string, std::string> annotations;
};

// Indented like runc's `state` output when `pretty`, one line otherwise.
std::string toJson(const State& state, bool pretty = true);

// `nucleo spec`: a default config.json like runc's, or a rootless one
// (user namespace mapping the caller, no cgroup limits, bind-mounted /sys).
std::string defaultSpecJson(bool rootless, uid_t uid, gid_t gid);

// The runtime-spec version this runtime implements.
inline constexpr const char* SPEC_VERSION = "1.2.0";

}  // namespace nucleo::oci
