#pragma once
// Processes and namespaces: clone3 into new namespaces (and a cgroup),
// setns by path, id maps, pidfds, and the process facts a runtime checks
// to tell a live container init from a recycled pid.

#include <sys/types.h>

#include <csignal>

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {

struct CloneOptions {
  int namespaceFlags = 0;  // CLONE_NEW* created by the clone itself
  int cgroupFd = -1;       // CLONE_INTO_CGROUP target (cgroup v2 only), -1 = stay
  int exitSignal = SIGCHLD;
};

// clone3(2) that runs `child` in the new process and _exit()s with its return
// value. The child shares nothing with the parent but copy-on-write memory,
// so it may allocate; it must not return into the caller's stack frames.
// Errors: EINVAL/EPERM from the kernel, named with the flags.
template <class F>
Result<pid_t> cloneProcess(const CloneOptions& options, F&& child);

// Non-template core of cloneProcess: returns 0 in the child.
Result<pid_t> cloneRaw(const CloneOptions& options);

// Opens /proc/<pid>/ns/<name> ("net", "mnt", ...) or an arbitrary path and
// checks with NS_GET_NSTYPE that it is a namespace of `cloneFlag`'s type.
Result<UniqueFd> openNamespace(const std::string& path, int cloneFlag);
Status joinNamespace(const UniqueFd& fd, int cloneFlag, const std::string& what);

// The /proc/<pid>/ns file name of a CLONE_NEW* flag ("mnt" for CLONE_NEWNS).
const char* namespaceProcName(int cloneFlag);

struct IdMap {
  uint32_t inside = 0, outside = 0, count = 0;
};
// Writes uid_map and gid_map of `pid` (setgroups "deny" first when
// `denySetgroups`, as an unprivileged writer must).
Status writeIdMaps(pid_t pid, const std::vector<IdMap>& uids, const std::vector<IdMap>& gids,
                   bool denySetgroups);

// Field 22 of /proc/<pid>/stat, the start time in clock ticks; with the pid it
// identifies one process across pid reuse. Error when the process is gone.
Result<uint64_t> processStartTime(pid_t pid);
// The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...); nullopt when gone.
std::optional<char> processState(pid_t pid);

// pidfd_open(2) and pidfd_send_signal(2).
Result<UniqueFd> pidfdOpen(pid_t pid);
Status pidfdSignal(const UniqueFd& pidfd, int signal);

// Signal names as kill(1) and runc take them: "TERM", "SIGTERM", "15".
Result<int> parseSignal(std::string_view name);

// Closes every fd >= `from` except those listed (sorted ascending).
Status closeFdsFrom(int from, const std::vector<int>& keep = {});

}  // namespace nucleo::os

#include <unistd.h>

namespace nucleo::os {

template <class F>
Result<pid_t> cloneProcess(const CloneOptions& options, F&& child) {
  TRY_ASSIGN(pid_t pid, cloneRaw(options));
  if (pid == 0) ::_exit(child());
  return pid;
}

}  // namespace nucleo::os
