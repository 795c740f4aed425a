#pragma once
// OOM notifications of a cgroup: on v2 an inotify watch on memory.events
// (the kernel signals a modification when a counter moves), on v1 an eventfd
// registered through cgroup.event_control for memory.oom_control.

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os {

class OomWatcher {
 public:
  // Starts watching; OOM kills before this call are not reported. Errors if
  // the host has no memory controller or the cgroup's files are missing.
  static Result<OomWatcher> create(const Cgroup& cgroup);

  // Waits up to timeout for OOM events and returns how many happened (0 on
  // timeout). On v2 that is the rise of memory.events "oom_kill"; on v1 each
  // eventfd notification counts as one. Errors with ENOENT once the cgroup
  // is gone.
  Result<uint64_t> wait(std::chrono::milliseconds timeout);

  // The fd to poll for readability, for callers with their own loop; call
  // wait(0ms) when it is readable.
  int fd() const { return notify_.get(); }

 private:
  OomWatcher() = default;
  Result<uint64_t> drainV2();

  bool v2_ = false;
  UniqueFd notify_;   // inotify (v2) or eventfd (v1)
  UniqueFd dir_;      // the memory cgroup directory (v2 re-reads memory.events)
  UniqueFd control_;  // v1: memory.oom_control, kept open for the registration
  std::string path_;
  uint64_t lastKills_ = 0;
};

}  // namespace nucleo::os
