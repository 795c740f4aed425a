#include "network/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

extern char** environ;

namespace nucleo::network {
namespace {

std::vector<char*> cStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Writes input and reads both outputs with poll, so a program that answers
// before it has read all of its stdin cannot deadlock us.
Status pump(UniqueFd in, UniqueFd out, UniqueFd err, const std::string& input, CommandResult& r) {
  size_t written = 0;
  if (input.empty()) in.reset();
  // Non-blocking, or a write larger than the pipe waits for a reader that is
  // itself waiting for us to read its output.
  if (in) ::fcntl(in.get(), F_SETFL, ::fcntl(in.get(), F_GETFL) | O_NONBLOCK);
  while (out || err) {
    struct pollfd fds[3] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}, {in.get(), POLLOUT, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("poll");
    }
    if (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
      ssize_t n = ::write(in.get(), input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN) || written == input.size()) in.reset();
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      else (i == 0 ? out : err).reset();
    }
  }
  return ok();
}

}  // namespace

Result<CommandResult> runCommand(const std::vector<std::string>& argv, const std::string& input,
                                 const std::optional<std::vector<std::string>>& env) {
  TRY_ASSIGN(auto inPipe, makePipe());
  TRY_ASSIGN(auto outPipe, makePipe());
  TRY_ASSIGN(auto errPipe, makePipe());
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, inPipe.first.get(), 0);
  ::posix_spawn_file_actions_adddup2(&actions, outPipe.second.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, errPipe.second.get(), 2);
  auto args = cStrings(argv);
  std::vector<char*> envp;
  if (env) envp = cStrings(*env);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(),
                         env ? envp.data() : environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error::fromErrno("run '" + argv[0] + "'", rc);
  inPipe.first.reset();
  outPipe.second.reset();
  errPipe.second.reset();
  CommandResult r;
  // A program that exits without reading stdin must not kill us with SIGPIPE:
  // the signal is blocked in this thread only (the write gets EPIPE) and a
  // pending one is consumed, so other threads' handlers are untouched.
  sigset_t pipeSet, oldMask;
  sigemptyset(&pipeSet);
  sigaddset(&pipeSet, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipeSet, &oldMask);
  Status pumped = pump(std::move(inPipe.second), std::move(outPipe.first),
                       std::move(errPipe.first), input, r);
  struct timespec zero = {0, 0};
  while (::sigtimedwait(&pipeSet, nullptr, &zero) == SIGPIPE) {
  }
  ::pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  TRY(std::move(pumped));
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::optional<std::string> findProgram(const std::string& name, const std::vector<std::string>& dirs) {
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  for (const auto& d : dirs) {
    std::string p = d + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

}  // namespace nucleo::network
