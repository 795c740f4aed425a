#pragma once
// The records in a container's directory (see supervisor_protocol.hpp), the
// check that a recorded supervisor pid still names that supervisor, and
// running the runtime binary. Internal to agent/containers.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/containers/containers.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::agent::detail {

struct SupervisorId {
  pid_t pid = 0;
  uint64_t startTime = 0;
};
// "<pid> <start time>"; errors name the text.
Result<SupervisorId> parseSupervisorId(std::string_view text);

// The exit file; errors name the line that is wrong.
Result<ContainerExit> parseExit(std::string_view text);
std::string formatExit(const ContainerExit& exit);

// What Containers recorded before starting the supervisor, to undo it later.
struct ContainerMeta {
  std::string cgroup;      // normalised cgroup path
  std::string imageMount;  // the image store's container id, "" for the host fs
  bool hostRootfs = false;  // bundle/rootfs is a bind of the host's /
};
std::string formatMeta(const ContainerMeta& meta);
Result<ContainerMeta> parseMeta(std::string_view text);

// A pidfd of the recorded process while it is still that process (same pid
// and start time); nullopt once it has exited, even if the pid was reused.
Result<std::optional<UniqueFd>> openIfSame(const SupervisorId& id);

// Waits up to `timeout` for a pidfd to become readable (the process exited).
bool waitPidfd(const UniqueFd& pidfd, int timeoutMs);

// Runs argv to completion with stdin from /dev/null and stdout+stderr
// captured together; every fd but 0-2 is closed in the child.
struct RunResult {
  int status = 0;  // wait status
  std::string output;
};
Result<RunResult> runProgram(const std::vector<std::string>& argv);

// Starts nucleo-supervisor (argv[0]) in its own session with the report pipe
// as fd 3 and no other fd of ours, reaps the process it forks from, and
// returns what follows "ok " in its report; "error ..." becomes the Error.
Result<std::string> startSupervisorProcess(const std::vector<std::string>& argv);

// The last non-empty line of a program's output, for error messages.
std::string lastLine(std::string_view output);

}  // namespace nucleo::agent::detail
