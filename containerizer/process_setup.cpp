#include "containerizer/process_setup.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "containerizer/sync.hpp"
#include "linux/capabilities.hpp"
#include "linux/scheduling.hpp"

namespace nucleo::containerizer {
namespace {

std::string envValue(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return e.substr(key.size() + 1);
  return {};
}

}  // namespace

// A pty whose master goes to the console socket and whose slave becomes the
// process's stdio and controlling terminal, mounted at /dev/console.
Status setupConsole(const isolator::ProcessPlan& process, int consoleFd) {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return Error::fromErrno("open /dev/ptmx");
  UniqueFd masterFd(master);
  if (::unlockpt(master) < 0) return Error::fromErrno("unlockpt");
  char name[128];
  if (::ptsname_r(master, name, sizeof name) != 0) return Error::fromErrno("ptsname");
  TRY_ASSIGN(UniqueFd slave, UniqueFd::open(name, O_RDWR | O_NOCTTY));
  if (process.consoleSize) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(process.consoleSize->first);
    ws.ws_col = static_cast<unsigned short>(process.consoleSize->second);
    ::ioctl(master, TIOCSWINSZ, &ws);
  }
  struct stat st;
  if (::stat("/dev/console", &st) < 0) {
    int fd = ::open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  if (::mount(name, "/dev/console", nullptr, MS_BIND, nullptr) < 0)
    return Error::fromErrno("bind pty onto /dev/console");
  TRY(sendFd(consoleFd, master, "console"));
  if (::setsid() < 0) return Error::fromErrno("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return Error::fromErrno("set controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave.get(), fd) < 0) return Error::fromErrno("dup2 pty");
  return ok();
}

// execvp's lookup, done before start so that a missing program fails `create`
// as it does with runc.
Result<std::string> resolveExecutable(const isolator::ProcessPlan& process) {
  const std::string& name = process.args[0];
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) < 0)
      return Error::fromErrno("exec \"" + name + "\"");
    return name;
  }
  std::string path = envValue(process.env, "PATH");
  if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& dir : strings::split(path, ':', true)) {
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return Error{ENOENT, fmt::format("exec \"{}\": executable file not found in $PATH", name)};
}

Status applyProcessLimits(const isolator::ProcessPlan& process) {
  if (process.oomScoreAdj)
    TRY(fs::writeExisting("/proc/self/oom_score_adj", std::to_string(*process.oomScoreAdj))
            .context("process.oomScoreAdj"));
  if (process.scheduler) TRY(os::setScheduler(*process.scheduler));
  if (process.ioPriority) TRY(os::setIoPriority(process.ioPriority->first, process.ioPriority->second));
  for (const auto& r : process.rlimits)
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.limit) < 0)
      return Error::fromErrno(fmt::format("process.rlimits: setrlimit {} to {}:{}", r.resource,
                                          r.limit.rlim_cur, r.limit.rlim_max));
  return ok();
}

// CVE-2024-21626: with no host fd left open, the cwd cannot be a leaked host
// directory; check anyway that it lies inside the container's root.
Status enterCwd(const std::string& cwd) {
  if (::chdir(cwd.c_str()) < 0) return Error::fromErrno("process.cwd: chdir '" + cwd + "'");
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return Error::fromErrno("process.cwd: getcwd");
  if (buf[0] != '/') return Error::make("process.cwd: '{}' is outside the container", cwd);
  return ok();
}

Status applyPrivileges(const isolator::ProcessPlan& process,
                       const std::optional<os::SeccompProgram>& seccomp) {
  if (!process.cpuAffinityFinal.empty())
    TRY(os::setCpuAffinity(process.cpuAffinityFinal).context("process.execCPUAffinity.final"));
  if (process.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return Error::fromErrno("prctl no_new_privs");
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
  // before the capabilities go (runc does the same).
  if (seccomp && !process.noNewPrivileges) TRY(os::installSeccomp(*seccomp));
  TRY(os::applyIdentity(process.identity, *process.capabilities));
  if (seccomp && process.noNewPrivileges) TRY(os::installSeccomp(*seccomp));
  return ok();
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace nucleo::containerizer
