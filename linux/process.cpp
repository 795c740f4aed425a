#include "linux/process.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace nucleo::os {

Result<pid_t> cloneRaw(const CloneOptions& options) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = static_cast<uint64_t>(options.namespaceFlags);
  args.exit_signal = static_cast<uint64_t>(options.exitSignal);
  if (options.cgroupFd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(options.cgroupFd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0)
    return Error::fromErrno(fmt::format("clone3 (flags {:#x})", args.flags));
  return static_cast<pid_t>(pid);
}

const char* namespaceProcName(int cloneFlag) {
  switch (cloneFlag) {
    case CLONE_NEWNS: return "mnt";
    case CLONE_NEWPID: return "pid";
    case CLONE_NEWNET: return "net";
    case CLONE_NEWIPC: return "ipc";
    case CLONE_NEWUTS: return "uts";
    case CLONE_NEWUSER: return "user";
    case CLONE_NEWCGROUP: return "cgroup";
    case CLONE_NEWTIME: return "time";
    default: return "?";
  }
}

Result<UniqueFd> openNamespace(const std::string& path, int cloneFlag) {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::open(path, O_RDONLY));
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0) return Error::make("'{}' is not a namespace file", path);
  if (type != cloneFlag)
    return Error::make("'{}' is not a {} namespace", path, namespaceProcName(cloneFlag));
  return fd;
}

Status joinNamespace(const UniqueFd& fd, int cloneFlag, const std::string& what) {
  if (::setns(fd.get(), cloneFlag) < 0)
    return Error::fromErrno(fmt::format("join {} namespace {}", namespaceProcName(cloneFlag), what));
  return ok();
}

static std::string formatMap(const std::vector<IdMap>& map) {
  std::string out;
  for (const auto& m : map) out += fmt::format("{} {} {}\n", m.inside, m.outside, m.count);
  return out;
}

Status writeIdMaps(pid_t pid, const std::vector<IdMap>& uids, const std::vector<IdMap>& gids,
                   bool denySetgroups) {
  std::string dir = "/proc/" + std::to_string(pid);
  if (denySetgroups) TRY(fs::writeExisting(dir + "/setgroups", "deny"));
  // One write each: the kernel accepts a map only once, whole.
  TRY(fs::writeExisting(dir + "/uid_map", formatMap(uids)).context("uidMappings"));
  TRY(fs::writeExisting(dir + "/gid_map", formatMap(gids)).context("gidMappings"));
  return ok();
}

static Result<std::vector<std::string>> statFields(pid_t pid) {
  TRY_ASSIGN(std::string stat, fs::readFile("/proc/" + std::to_string(pid) + "/stat"));
  // comm may hold spaces and parentheses: fields restart after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return Error::make("malformed /proc/{}/stat", pid);
  return strings::split(std::string_view(stat).substr(close + 2), ' ', true);
}

Result<uint64_t> processStartTime(pid_t pid) {
  TRY_ASSIGN(auto fields, statFields(pid));
  // Field 22 overall; fields here start at field 3 (state).
  if (fields.size() < 20) return Error::make("malformed /proc/{}/stat", pid);
  auto start = strings::toUint(fields[19]);
  if (!start) return Error::make("malformed /proc/{}/stat", pid);
  return *start;
}

std::optional<char> processState(pid_t pid) {
  auto fields = statFields(pid);
  if (!fields || fields->empty() || fields->front().empty()) return std::nullopt;
  return fields->front()[0];
}

Result<UniqueFd> pidfdOpen(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return Error::fromErrno(fmt::format("pidfd_open {}", pid));
  return UniqueFd(static_cast<int>(fd));
}

Status pidfdSignal(const UniqueFd& pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) < 0)
    return Error::fromErrno(fmt::format("send signal {}", signal));
  return ok();
}

Result<int> parseSignal(std::string_view name) {
  if (auto number = strings::toInt(name)) {
    if (*number <= 0 || *number > SIGRTMAX) return Error::make("unknown signal \"{}\"", name);
    return static_cast<int>(*number);
  }
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  if (strings::startsWith(upper, "SIG")) upper = upper.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && upper == abbrev) return sig;
  }
  // RTMIN, RTMIN+N and RTMAX-N, as kill(1) spells real-time signals.
  if (strings::startsWith(upper, "RTMIN") || strings::startsWith(upper, "RTMAX")) {
    bool min = upper[4] == 'N';
    std::string rest = upper.substr(5);
    std::optional<int64_t> offset = rest.empty() ? std::optional<int64_t>(0) : std::nullopt;
    if (!rest.empty() && rest[0] == (min ? '+' : '-')) offset = strings::toUint(rest.substr(1));
    int sig = min ? SIGRTMIN + static_cast<int>(offset.value_or(0))
                  : SIGRTMAX - static_cast<int>(offset.value_or(0));
    if (offset && sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
  }
  return Error::make("unknown signal \"{}\"", name);
}

Status closeFdsFrom(int from, const std::vector<int>& keep) {
  int next = from;
  for (int fd : keep) {
    if (fd < next) continue;
    if (fd > next && ::syscall(SYS_close_range, next, fd - 1, 0) < 0)
      return Error::fromErrno("close_range");
    next = fd + 1;
  }
  if (::syscall(SYS_close_range, next, ~0U, 0) < 0) return Error::fromErrno("close_range");
  return ok();
}

}  // namespace nucleo::os
