#include "agent/containers/container_files.hpp"

#include <poll.h>
#include <signal.h>
#include <algorithm>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/containers/supervisor_protocol.hpp"
#include "base/strings.hpp"
#include "linux/process.hpp"

extern char** environ;

namespace nucleo::agent::detail {

Result<SupervisorId> parseSupervisorId(std::string_view text) {
  auto parts = strings::split(strings::trim(text), ' ', true);
  std::optional<int64_t> pid;
  std::optional<uint64_t> start;
  if (parts.size() == 2) {
    pid = strings::toInt(parts[0]);
    start = strings::toUint(parts[1]);
  }
  if (!pid || *pid <= 0 || !start) return Error::make("supervisor record '{}': expected '<pid> <start time>'", text);
  return SupervisorId{static_cast<pid_t>(*pid), *start};
}

Result<ContainerExit> parseExit(std::string_view text) {
  ContainerExit exit;
  bool sawStatus = false;
  for (const auto& line : strings::split(text, '\n', true)) {
    auto space = line.find(' ');
    std::string key = line.substr(0, space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "message") {
      exit.message = value;
      continue;
    }
    auto n = strings::toInt(value);
    if (!n) return Error::make("exit record: bad line '{}'", line);
    if (key == "status") exit.waitStatus = static_cast<int>(*n), sawStatus = true;
    else if (key == "oom") exit.oomKilled = *n != 0;
    else if (key == "killed") exit.killedByRequest = *n != 0;
  }
  if (!sawStatus) return Error::make("exit record: no status line");
  return exit;
}

std::string formatExit(const ContainerExit& exit) {
  std::string message = exit.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  return "status " + std::to_string(exit.waitStatus) + "\noom " + (exit.oomKilled ? "1" : "0") + "\nkilled " +
         (exit.killedByRequest ? "1" : "0") + "\nmessage " + message + "\n";
}

std::string formatMeta(const ContainerMeta& meta) {
  return "cgroup " + meta.cgroup + "\nmount " + (meta.imageMount.empty() ? "-" : meta.imageMount) + "\nhostfs " +
         (meta.hostRootfs ? "1" : "0") + "\n";
}

Result<ContainerMeta> parseMeta(std::string_view text) {
  ContainerMeta meta;
  for (const auto& line : strings::split(text, '\n', true)) {
    auto space = line.find(' ');
    if (space == std::string::npos) return Error::make("meta record: bad line '{}'", line);
    std::string key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "cgroup") meta.cgroup = value;
    else if (key == "mount") meta.imageMount = value == "-" ? "" : value;
    else if (key == "hostfs") meta.hostRootfs = value == "1";
  }
  if (meta.cgroup.empty()) return Error::make("meta record: no cgroup line");
  return meta;
}

Result<std::optional<UniqueFd>> openIfSame(const SupervisorId& id) {
  // Open first, then compare: if the pid was reused after the open, the
  // start time differs; if it matches, the pidfd is the recorded process.
  auto pidfd = os::pidfdOpen(id.pid);
  if (!pidfd && pidfd.error().code == ESRCH) return std::optional<UniqueFd>();
  if (!pidfd) return std::move(pidfd).error();
  auto start = os::processStartTime(id.pid);
  if (!start || *start != id.startTime) return std::optional<UniqueFd>();
  auto state = os::processState(id.pid);
  if (!state || *state == 'Z' || *state == 'X') return std::optional<UniqueFd>();
  return std::optional<UniqueFd>(std::move(*pidfd));
}

bool waitPidfd(const UniqueFd& pidfd, int timeoutMs) {
  pollfd p{pidfd.get(), POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeoutMs);
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

Result<RunResult> runProgram(const std::vector<std::string>& argv) {
  TRY_ASSIGN(auto pipe, makePipe());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, pipe.second.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, pipe.second.get(), STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error::fromErrno("run '" + argv[0] + "'", rc);
  pipe.second.reset();
  RunResult out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipe.first.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.output.append(buf, static_cast<size_t>(n));
  }
  while (::waitpid(pid, &out.status, 0) < 0) {
    if (errno != EINTR) return Error::fromErrno("wait for '" + argv[0] + "'");
  }
  return out;
}

constexpr int REPORT_TIMEOUT_MS = 120000;  // create may wait for a slow disk

Result<std::string> startSupervisorProcess(const std::vector<std::string>& argv) {
  TRY_ASSIGN(auto pipe, makePipe());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  for (int fd = 0; fd < 3; ++fd) ::posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  ::posix_spawn_file_actions_adddup2(&actions, pipe.second.get(), supervisor::REPORT_FD);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, supervisor::REPORT_FD + 1);
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t none;
  ::sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::fromErrno("start supervisor '" + argv[0] + "'", rc);
  pipe.second.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string line;
  pollfd p{pipe.first.get(), POLLIN, 0};
  while (line.find('\n') == std::string::npos) {
    int n = ::poll(&p, 1, REPORT_TIMEOUT_MS);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return Error::make("supervisor: no report within {} s", REPORT_TIMEOUT_MS / 1000);
    char buf[1024];
    ssize_t got = ::read(p.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    line.append(buf, static_cast<size_t>(got));
  }
  line = std::string(strings::trim(line));
  if (strings::startsWith(line, "ok ")) return line.substr(3);
  if (strings::startsWith(line, "error ")) return Error::make("{}", line.substr(6));
  return Error::make("supervisor exited without a report (wait status {})", status);
}

std::string lastLine(std::string_view output) {
  auto lines = strings::split(strings::trim(output), '\n', true);
  return lines.empty() ? std::string() : std::string(strings::trim(lines.back()));
}

}  // namespace nucleo::agent::detail
