// nucleo-supervisor: one per container, conmon-like. It detaches from the
// agent (its own session, so a SIGKILL of the agent's process group misses
// it), becomes a child subreaper so the container's init is re-parented to it
// once `nucleo run --detach` exits, writes the container's stdout/stderr into the
// sandbox, carries out kills with a grace period, and records the exit in the
// container's directory. In "pause" mode it only holds a pod's namespaces.
// libc only: see supervisor_io.hpp. File layout: supervisor_protocol.hpp.
//
//   nucleo-supervisor container --dir D --runtime BIN --root R --id ID
//       --sandbox S [--max-log-bytes N] [--oom-file F]... [--create-arg A]...
//   nucleo-supervisor pause --dir D [--hostname H] [--net]
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "agent/containers/supervisor/supervisor_io.hpp"
#include "agent/containers/supervisor_protocol.hpp"

namespace sv = nucleo::agent::supervisor;

namespace {

constexpr int MAX_OOM_FILES = 4;
constexpr int MAX_CREATE_ARGS = 24;
constexpr long DRAIN_MS = 1000;  // how long output may trail the init's exit

struct Args {
  const char* mode = nullptr;
  const char* dir = nullptr;
  const char* runtime = nullptr;
  const char* root = nullptr;
  const char* id = nullptr;
  const char* sandbox = nullptr;
  const char* hostname = nullptr;
  unsigned long long maxLogBytes = 10ULL << 20;
  const char* oomFiles[MAX_OOM_FILES] = {};
  int oomCount = 0;
  const char* createArgs[MAX_CREATE_ARGS] = {};  // passed on to `create` (network flags)
  int createArgCount = 0;
  bool net = false;
};

bool parseArgs(int argc, char** argv, Args& a) {
  if (argc < 2) return false;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const char* k = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (std::strcmp(k, "--net") == 0) {
      a.net = true;
      continue;
    }
    if (!v) return false;
    ++i;
    if (std::strcmp(k, "--dir") == 0) a.dir = v;
    else if (std::strcmp(k, "--runtime") == 0) a.runtime = v;
    else if (std::strcmp(k, "--root") == 0) a.root = v;
    else if (std::strcmp(k, "--id") == 0) a.id = v;
    else if (std::strcmp(k, "--sandbox") == 0) a.sandbox = v;
    else if (std::strcmp(k, "--hostname") == 0) a.hostname = v;
    else if (std::strcmp(k, "--max-log-bytes") == 0) a.maxLogBytes = std::strtoull(v, nullptr, 10);
    else if (std::strcmp(k, "--oom-file") == 0 && a.oomCount < MAX_OOM_FILES) a.oomFiles[a.oomCount++] = v;
    else if (std::strcmp(k, "--create-arg") == 0 && a.createArgCount < MAX_CREATE_ARGS)
      a.createArgs[a.createArgCount++] = v;
    else return false;
  }
  if (!a.dir) return false;
  if (std::strcmp(a.mode, "pause") == 0) return true;
  return std::strcmp(a.mode, "container") == 0 && a.runtime && a.root && a.id && a.sandbox;
}

__attribute__((format(printf, 1, 2))) void report(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof line) - 1) n = sizeof line - 1;
  if (n > 0 && ::write(sv::REPORT_FD, line, static_cast<size_t>(n)) < 0) {
    // Nobody to tell: the agent went away; the exit file still records it.
  }
  ::close(sv::REPORT_FD);
}

long nowMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Leaves the agent's session and process tree: the parent returns at once so
// the agent reaps it, and the grandchild is adopted by init.
bool detach() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid > 0) ::_exit(0);
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  ::umask(022);
  return ::chdir("/") == 0;
}

int recordSelf(int dirfd) {
  char text[64];
  int n = std::snprintf(text, sizeof text, "%d %llu\n", ::getpid(), sv::startTimeOf(0));
  return sv::writeAtomic(dirfd, sv::SUPERVISOR_FILE, text, static_cast<size_t>(n));
}

// Runs `runtime --root R <command> [--flag] ID [signal]` to completion; its
// wait status.
int runtime(const Args& a, const char* command, const char* flag, const char* signal, int out, int err) {
  const char* argv[10] = {a.runtime, "--root", a.root, command};
  int i = 4;
  if (flag) argv[i++] = flag;
  argv[i++] = a.id;
  if (signal) argv[i++] = signal;
  argv[i] = nullptr;
  pid_t pid = sv::spawn(const_cast<char* const*>(argv), -1, out, err);
  return pid < 0 ? -1 : sv::waitFor(pid);
}

// What the runtime printed before failing, as one line.
void drainMessage(int fd, char* msg, size_t size) {
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  ssize_t n = ::read(fd, msg, size - 1);
  msg[n > 0 ? n : 0] = '\0';
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
  for (char* p = msg; *p; ++p)
    if (*p == '\n') *p = ' ';
}

struct Container {
  const Args* args = nullptr;
  int dirfd = -1;
  pid_t init = -1;
  int outFd = -1, errFd = -1;
  sv::LogFile out, err;
  int timerFd = -1;
  bool initDone = false, killRequested = false;
  int status = 0;

  void hardKill() {
    if (initDone) return;
    runtime(*args, "kill", "--all", "KILL", -1, -1);
    // The init is our unreaped child, so its pid cannot have been reused.
    ::kill(init, SIGKILL);
  }
  void startKill(long graceMs) {
    if (initDone) return;
    killRequested = true;
    runtime(*args, "kill", "--all", "TERM", -1, -1);
    if (graceMs <= 0) return hardKill();
    itimerspec t = {};
    t.it_value.tv_sec = graceMs / 1000;
    t.it_value.tv_nsec = (graceMs % 1000) * 1000000;
    ::timerfd_settime(timerFd, 0, &t, nullptr);
  }
  void reap() {
    for (;;) {
      int st = 0;
      pid_t p = ::waitpid(-1, &st, WNOHANG);
      if (p <= 0) return;
      if (p == init) {
        initDone = true;
        status = st;
      }
    }
  }
  void onSignal(int signo) {
    if (signo == SIGCHLD) return reap();
    if (signo == SIGUSR1) {
      char text[64];
      long grace = sv::DEFAULT_GRACE_MS;
      if (sv::readSmall(dirfd, sv::KILL_FILE, text, sizeof text) > 0) grace = std::strtol(text, nullptr, 10);
      return startKill(grace);
    }
    startKill(sv::DEFAULT_GRACE_MS);  // SIGTERM, SIGINT
  }
  void pump(int& fd, sv::LogFile& log) {
    static char buf[16384];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      ::close(fd);
      fd = -1;
      return;
    }
    log.append(buf, static_cast<size_t>(n));
  }
  void loop(int sigFd);
  void recordExit();
};

void Container::loop(int sigFd) {
  long drainUntil = 0;
  while (!initDone || outFd >= 0 || errFd >= 0) {
    int timeout = -1;
    if (initDone) {
      if (drainUntil == 0) drainUntil = nowMs() + DRAIN_MS;
      timeout = static_cast<int>(drainUntil - nowMs());
      if (timeout <= 0) break;
    }
    pollfd fds[4] = {{sigFd, POLLIN, 0}, {timerFd, POLLIN, 0}, {outFd, POLLIN, 0}, {errFd, POLLIN, 0}};
    if (::poll(fds, 4, timeout) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigFd, &si, sizeof si) == sizeof si) onSignal(static_cast<int>(si.ssi_signo));
    }
    if (fds[1].revents & POLLIN) {
      unsigned long long ticks;
      if (::read(timerFd, &ticks, sizeof ticks) == sizeof ticks) hardKill();
    }
    if (fds[2].revents) pump(outFd, out);
    if (fds[3].revents) pump(errFd, err);
  }
}

void Container::recordExit() {
  bool oom = false;
  for (int i = 0; i < args->oomCount; ++i) oom = oom || sv::oomKillCount(args->oomFiles[i]) > 0;
  char text[128];
  int n = std::snprintf(text, sizeof text, "status %d\noom %d\nkilled %d\nmessage \n", status, oom ? 1 : 0,
                        killRequested ? 1 : 0);
  sv::writeAtomic(dirfd, sv::EXIT_FILE, text, static_cast<size_t>(n));
}

int signalFd() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int s : {SIGCHLD, SIGUSR1, SIGTERM, SIGINT}) ::sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  return ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

// `run --detach` (create and start in one runtime process: one exec less
// per launch than create + start); on failure reports, removes the
// runtime's container, exits. The init is re-parented to us (subreaper).
pid_t createAndStart(Container& c, int outW, int errW) {
  const Args& a = *c.args;
  char pidFile[4096], bundle[4096], msg[600];
  std::snprintf(pidFile, sizeof pidFile, "%s/%s", a.dir, sv::INIT_PID_FILE);
  std::snprintf(bundle, sizeof bundle, "%s/%s", a.dir, sv::BUNDLE_DIR);
  const char* argv[11 + MAX_CREATE_ARGS] = {a.runtime, "--root", a.root, "run", "--detach", "--bundle",
                                            bundle, "--pid-file", pidFile};
  int n = 9;
  for (int i = 0; i < a.createArgCount; ++i) argv[n++] = a.createArgs[i];
  argv[n++] = a.id;
  argv[n] = nullptr;
  pid_t pid = sv::spawn(const_cast<char* const*>(argv), -1, outW, errW);
  int st = pid < 0 ? -1 : sv::waitFor(pid);
  pid_t init = -1;
  if (st == 0) {
    char text[32];
    if (sv::readSmall(c.dirfd, sv::INIT_PID_FILE, text, sizeof text) > 0) init = std::atoi(text);
  }
  if (init > 0) return init;
  drainMessage(c.errFd, msg, sizeof msg);
  runtime(a, "delete", "--force", nullptr, -1, -1);
  char what[700];
  std::snprintf(what, sizeof what, "run: %s", msg[0] ? msg : "the runtime failed");
  report("error %s\n", what);
  ::_exit(1);
}

int runContainer(const Args& a) {
  Container c;
  c.args = &a;
  c.dirfd = ::open(a.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int sandbox = ::open(a.sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c.dirfd < 0 || recordSelf(c.dirfd) != 0) return report("error container dir '%s'\n", a.dir), 1;
  if (sandbox < 0 || c.out.open(sandbox, "stdout", a.maxLogBytes) != 0 ||
      c.err.open(sandbox, "stderr", a.maxLogBytes) != 0)
    return report("error sandbox '%s': cannot open stdout/stderr there\n", a.sandbox), 1;
  int outP[2], errP[2];
  if (::pipe2(outP, O_CLOEXEC) != 0 || ::pipe2(errP, O_CLOEXEC) != 0)
    return report("error pipe: %s\n", std::strerror(errno)), 1;
  c.outFd = outP[0];
  c.errFd = errP[0];
  c.timerFd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  int sigFd = signalFd();
  c.init = createAndStart(c, outP[1], errP[1]);
  ::close(outP[1]);
  ::close(errP[1]);
  ::fcntl(c.errFd, F_SETFL, 0);
  report("ok %d\n", c.init);
  c.loop(sigFd);
  c.recordExit();
  return 0;
}

void loopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  ::close(s);
}

// Holds a pod's UTS, IPC (and network) namespaces until SIGTERM.
int runPause(const Args& a) {
  int dirfd = ::open(a.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return report("error pod dir '%s'\n", a.dir), 1;
  if (::unshare(CLONE_NEWUTS | CLONE_NEWIPC | (a.net ? CLONE_NEWNET : 0)) != 0)
    return report("error unshare: %s\n", std::strerror(errno)), 1;
  if (a.hostname && ::sethostname(a.hostname, std::strlen(a.hostname)) != 0)
    return report("error hostname '%s'\n", a.hostname), 1;
  if (a.net) loopbackUp();
  int sigFd = signalFd();
  if (recordSelf(dirfd) != 0) return report("error pod dir '%s'\n", a.dir), 1;
  report("ok %d\n", ::getpid());
  for (;;) {
    pollfd p = {sigFd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return 1;
    signalfd_siginfo si;
    while (::read(sigFd, &si, sizeof si) == sizeof si) {
      if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) return 0;
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing of the agent's but the report fd may reach the container.
  ::syscall(SYS_close_range, static_cast<unsigned>(sv::REPORT_FD + 1), ~0U, 0U);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  Args a;
  if (!parseArgs(argc, argv, a)) {
    report("error usage: nucleo-supervisor container|pause --dir D ...\n");
    return 2;
  }
  if (!detach()) return report("error fork: %s\n", std::strerror(errno)), 1;
  return std::strcmp(a.mode, "pause") == 0 ? runPause(a) : runContainer(a);
}
