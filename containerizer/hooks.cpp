#include "containerizer/hooks.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/unique_fd.hpp"
#include "linux/process.hpp"

namespace nucleo::containerizer {
namespace {

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Result<int> waitWithTimeout(pid_t pid, const std::optional<int>& timeout) {
  TRY_ASSIGN(UniqueFd pidfd, os::pidfdOpen(pid));
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  int ms = timeout ? *timeout * 1000 : -1;
  int n;
  do n = ::poll(&p, 1, ms);
  while (n < 0 && errno == EINTR);
  if (n == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Error::make("timed out after {}s", *timeout);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

Status runHook(const oci::Hook& hook, const std::string& stateJson) {
  TRY_ASSIGN(auto pipe, makePipe());
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<std::string> env = hook.env;
  auto argv = pointers(args);
  auto envp = pointers(env);
  pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("fork");
  if (pid == 0) {
    ::dup2(pipe.first.get(), 0);
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  pipe.first.reset();
  // A hook that does not read stdin must not fail us: ignore EPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  (void)!::write(pipe.second.get(), stateJson.data(), stateJson.size());
  pipe.second.reset();
  TRY_ASSIGN(int status, waitWithTimeout(pid, hook.timeout));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return Error::make("exited with status 127 (missing or not executable?)");
  if (WIFEXITED(status)) return Error::make("exited with status {}", WEXITSTATUS(status));
  return Error::make("killed by signal {}", WTERMSIG(status));
}

}  // namespace

Status runHooks(const std::vector<oci::Hook>& hooks, const std::string& stateJson,
                const char* phase) {
  for (const auto& hook : hooks) {
    auto result = runHook(hook, stateJson);
    if (!result) return std::move(result).error().context("{} hook {}", phase, hook.path);
  }
  return ok();
}

}  // namespace nucleo::containerizer
