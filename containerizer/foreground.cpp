#include "containerizer/foreground.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/unique_fd.hpp"
#include "linux/process.hpp"

namespace nucleo::containerizer {
namespace {

sigset_t forwardedSet() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
    ::sigaddset(&set, sig);
  return set;
}

class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
      struct termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

void copyWindowSize(int ptyMaster) {
  struct winsize ws;
  if (ptyMaster >= 0 && ::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(ptyMaster, TIOCSWINSZ, &ws);
}

// Copies what is readable from `from` to `to`; false at end of input.
bool pump(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

int shellStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

void blockForwardedSignals() {
  sigset_t set = forwardedSet();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

Result<int> waitForeground(pid_t pid, int ptyMaster) {
  sigset_t set = forwardedSet();
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) return Error::fromErrno("signalfd");
  UniqueFd signals(sfd);
  TRY_ASSIGN(UniqueFd pidfd, os::pidfdOpen(pid));
  std::optional<RawTerminal> raw;
  if (ptyMaster >= 0) {
    raw.emplace();
    copyWindowSize(ptyMaster);
  }
  bool stdinOpen = ptyMaster >= 0, ptyOpen = ptyMaster >= 0;
  for (;;) {
    struct pollfd fds[4] = {{pidfd.get(), POLLIN, 0}, {signals.get(), POLLIN, 0},
                            {stdinOpen ? 0 : -1, POLLIN, 0}, {ptyOpen ? ptyMaster : -1, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("poll");
    }
    if (fds[3].revents) ptyOpen = pump(ptyMaster, 1);
    if (fds[2].revents) stdinOpen = pump(0, ptyMaster);
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGWINCH)
          copyWindowSize(ptyMaster);
        else
          (void)os::pidfdSignal(pidfd, static_cast<int>(info.ssi_signo));
      }
    }
    if (fds[0].revents & POLLIN) {
      // Drain what the process wrote before it exited.
      while (ptyOpen && pump(ptyMaster, 1)) {
        struct pollfd p = {ptyMaster, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) break;
      }
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return Error::fromErrno("waitpid");
      return shellStatus(status);
    }
  }
}

}  // namespace nucleo::containerizer
