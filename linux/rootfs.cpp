// prepareRootfs and enterRootfs: the mount side of runc's
// libcontainer/rootfs_linux.go, with crun's rule that every destination is
// opened inside the rootfs (openat2 RESOLVE_IN_ROOT) and mounted via its fd.

#include "linux/rootfs.hpp"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/mount.hpp"

namespace nucleo::os {
namespace {

// Files under /proc that may be bind-mounted over (lxcfs and friends), as in
// runc's checkProcMount. Anything else under /proc could hide a security knob
// such as /proc/sys or /proc/self/attr.
constexpr std::string_view PROC_BIND_ALLOWLIST[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
    "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
    "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};

// Lexically cleaned absolute form of a destination, for policy checks only;
// the mount itself always goes through in-root resolution.
std::string cleanPath(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& part : strings::split(path, '/', true)) {
    if (part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return "/" + strings::join(out, "/");
}

bool underProc(const std::string& clean) {
  return clean == "/proc" || strings::startsWith(clean, "/proc/");
}

Result<int64_t> fsMagic(int fd) {
  struct statfs st;
  if (::fstatfs(fd, &st) < 0) return Error::fromErrno("statfs");
  return static_cast<int64_t>(st.f_type);
}

// CVE-2019-19921 and friends: nothing but a real procfs goes at /proc, and
// only allowlisted files inside procfs may be covered.
Status checkProcDestination(const MountEntry& m, const std::string& clean,
                            int targetFd, bool isBind) {
  bool allowlisted = isBind && std::find(std::begin(PROC_BIND_ALLOWLIST),
                                         std::end(PROC_BIND_ALLOWLIST),
                                         clean) != std::end(PROC_BIND_ALLOWLIST);
  if (underProc(clean) && !(clean == "/proc" && m.type == "proc") &&
      !allowlisted) {
    return Error{EPERM, fmt::format("mount destination '{}' is inside /proc",
                                    m.destination)};
  }
  TRY_ASSIGN(int64_t magic, fsMagic(targetFd));
  if (magic == PROC_SUPER_MAGIC && !allowlisted) {
    return Error{EPERM, fmt::format("mount destination '{}' resolves into a "
                                    "procfs", m.destination)};
  }
  return ok();
}

// After mount(2) the destination is opened again: it must now be the root of
// a mount other than the one it was on before, so a swapped path (or a
// symlink raced in) cannot make us configure the wrong mount.
Result<UniqueFd> reopenMounted(int rootfd, const std::string& dest,
                               uint64_t mountIdBefore, int64_t wantMagic) {
  TRY_ASSIGN(UniqueFd fd, openInRoot(rootfd, dest, O_PATH));
  TRY_ASSIGN(uint64_t after, mountIdOf(fd.get()));
  TRY_ASSIGN(bool root, isMountRoot(fd.get()));
  if (after == mountIdBefore || !root) {
    return Error{EXDEV, fmt::format("mount destination '{}' is not the new "
                                    "mount after mounting", dest)};
  }
  if (wantMagic != 0) {
    TRY_ASSIGN(int64_t magic, fsMagic(fd.get()));
    if (magic != wantMagic) {
      return Error{EXDEV, fmt::format("mount destination '{}' has fs magic "
                                      "{:#x} after mounting", dest, magic)};
    }
  }
  return fd;
}

// Propagation changes are separate mount(2) calls; r* options go through
// mount_setattr so they reach every submount.
Status applyPropagationAndAttrs(int fd, const MountOptions& o,
                                const std::string& dest) {
  for (unsigned long p : o.propagation) TRY(mountOnFd("", fd, "", p, "", dest));
  return setMountAttr(fd, o.attrSet, o.attrClear, true, dest);
}

Status bindEntry(int rootfd, const MountEntry& m, MountOptions o,
                 bool recursiveFlags) {
  struct stat st;
  if (::stat(m.source.c_str(), &st) < 0) {
    return Error::fromErrno(fmt::format("bind source '{}'", m.source));
  }
  const std::string clean = cleanPath(m.destination);
  TRY_ASSIGN(UniqueFd target,
             ensureMountTarget(rootfd, m.destination, S_ISDIR(st.st_mode)));
  TRY(checkProcDestination(m, clean, target.get(), true));
  TRY_ASSIGN(uint64_t before, mountIdOf(target.get()));
  unsigned long flags = MS_BIND | (o.recursiveBind ? MS_REC : 0);
  TRY(mountOnFd(m.source, target.get(), "", flags, "", m.destination));
  TRY_ASSIGN(UniqueFd mounted, reopenMounted(rootfd, m.destination, before, 0));
  // A bind takes its source's flags; only the flags the config sets are
  // added, so flags locked by a user namespace are never cleared by accident.
  uint64_t set = 0, clear = 0;
  msFlagsToAttr(o.flags, 0, &set, &clear);
  TRY(setMountAttr(mounted.get(), set, clear, recursiveFlags, m.destination));
  return applyPropagationAndAttrs(mounted.get(), o, m.destination);
}

Status fsEntry(int rootfd, const MountEntry& m, const MountOptions& o,
               unsigned long dropFlags) {
  const std::string clean = cleanPath(m.destination);
  TRY_ASSIGN(UniqueFd target, ensureMountTarget(rootfd, m.destination, true));
  TRY(checkProcDestination(m, clean, target.get(), false));
  TRY_ASSIGN(uint64_t before, mountIdOf(target.get()));
  const std::string source = m.source.empty() ? m.type : m.source;
  TRY(mountOnFd(source, target.get(), m.type, o.flags & ~dropFlags, o.data,
                m.destination));
  if (o.flags & MS_REMOUNT) {
    return applyPropagationAndAttrs(target.get(), o, m.destination);
  }
  int64_t magic = m.type == "proc" ? PROC_SUPER_MAGIC
                  : m.type == "sysfs" ? SYSFS_MAGIC
                                      : 0;
  TRY_ASSIGN(UniqueFd mounted,
             reopenMounted(rootfd, m.destination, before, magic));
  return applyPropagationAndAttrs(mounted.get(), o, m.destination);
}

// Without a network namespace of its own the kernel refuses a new sysfs
// (EPERM in a user namespace); runc then binds the host's /sys recursively.
Status sysfsEntry(int rootfd, const MountEntry& m, const MountOptions& o) {
  auto st = fsEntry(rootfd, m, o, 0);
  if (st || st.error().code != EPERM) return st;
  MountEntry bind = m;
  bind.source = "/sys";
  MountOptions bo = o;
  bo.bind = bo.recursiveBind = true;
  return bindEntry(rootfd, bind, bo, true);
}

std::set<std::string> v1Controllers() {
  std::set<std::string> out;
  auto text = fs::readFile("/proc/cgroups");
  if (!text) return out;
  for (const auto& line : strings::split(*text, '\n', true)) {
    if (line.empty() || line[0] == '#') continue;
    out.insert(strings::split(line, '\t', true).front());
  }
  return out;
}

// The data for mounting the same v1 hierarchy again: its controllers and
// name=, without per-superblock options such as release_agent.
std::string v1MountData(const std::string& superOptions,
                        const std::set<std::string>& controllers) {
  std::vector<std::string> keep;
  bool named = false, hasController = false;
  for (const auto& opt : strings::split(superOptions, ',', true)) {
    if (controllers.count(opt)) {
      keep.push_back(opt);
      hasController = true;
    } else if (strings::startsWith(opt, "name=")) {
      keep.push_back(opt);
      named = true;
    }
  }
  if (named && !hasController) keep.insert(keep.begin(), "none");
  return strings::join(keep, ",");
}

// Without a cgroup namespace a fresh cgroup mount would show the host's whole
// hierarchy: bind only the container's own cgroup there instead.
Status bindOwnCgroup(int rootfd, const MountEntry& m, const MountOptions& o,
                     const std::string& hostDir, const std::string& destination) {
  MountEntry bind;
  bind.destination = destination;
  bind.type = "bind";
  bind.source = hostDir;
  MountOptions bo;
  bo.bind = true;
  bo.flags = o.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_RDONLY);
  msFlagsToAttr(bo.flags, 0, &bo.attrSet, &bo.attrClear);
  (void)m;
  return bindEntry(rootfd, bind, bo, false).context("cgroup '{}'", hostDir);
}

Status mountV1Hierarchy(int rootfd, const MountEntry& m, const MountOptions& o,
                        const MountInfo& host,
                        const std::set<std::string>& controllers, const RootfsPlan& plan) {
  std::string sub = host.mountPoint.substr(std::string("/sys/fs/cgroup").size());
  if (!plan.cgroupNamespace && !plan.cgroupPath.empty()) {
    // A hierarchy the container has no cgroup in (name=systemd, which holds
    // no controller) is mounted whole, below.
    std::string own = host.mountPoint + plan.cgroupPath;
    if (fs::exists(own)) return bindOwnCgroup(rootfd, m, o, own, cleanPath(m.destination) + sub);
    // A user namespace may not mount a hierarchy afresh: leave it out.
    if (plan.userNamespace) return ok();
  }
  MountEntry child;
  child.destination = cleanPath(m.destination) + sub;
  child.type = host.fsType;
  child.source = host.fsType;
  MountOptions co;
  co.flags = o.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
  co.data = host.fsType == "cgroup" ? v1MountData(host.superOptions, controllers)
                                    : "";
  // ro is applied per mount afterwards: asking for MS_RDONLY on a superblock
  // the host has mounted rw is not portable across filesystems.
  if (o.flags & MS_RDONLY) co.attrSet = MOUNT_ATTR_RDONLY;
  return fsEntry(rootfd, child, co, 0).context("cgroup hierarchy '{}'", sub);
}

// A "cgroup" mount: cgroup2 on a unified host; on a v1 or hybrid host a tmpfs
// holding every host hierarchy mounted again by controller (runc's
// mountCgroupV1 for a container with a cgroup namespace).
Status cgroupEntry(int rootfd, const MountEntry& m, const MountOptions& o,
                   const RootfsPlan& plan) {
  struct statfs st;
  if (::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
    if (!plan.cgroupNamespace && !plan.cgroupPath.empty())
      return bindOwnCgroup(rootfd, m, o, "/sys/fs/cgroup" + plan.cgroupPath, m.destination);
    MountEntry v2 = m;
    v2.type = v2.source = "cgroup2";
    return fsEntry(rootfd, v2, o, 0);
  }
  MountEntry tmpfs = m;
  tmpfs.type = tmpfs.source = "tmpfs";
  MountOptions to;
  to.flags = o.flags & ~MS_RDONLY;
  to.data = "mode=755";
  TRY(fsEntry(rootfd, tmpfs, to, 0));
  TRY_ASSIGN(std::string text, fs::readFile("/proc/self/mountinfo"));
  auto controllers = v1Controllers();
  for (const auto& host : parseMountInfo(text)) {
    if (!strings::startsWith(host.mountPoint, "/sys/fs/cgroup/")) continue;
    // The v1 view only, as runc gives it on a hybrid host: the cgroup2 mount
    // there holds no controller a container limit lives in.
    if (host.fsType != "cgroup") continue;
    TRY(mountV1Hierarchy(rootfd, m, o, host, controllers, plan));
  }
  TRY_ASSIGN(UniqueFd top, openInRoot(rootfd, m.destination, O_PATH));
  uint64_t roSet = (o.flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0;
  TRY(setMountAttr(top.get(), roSet, 0, false, m.destination));
  return applyPropagationAndAttrs(top.get(), o, m.destination);
}

Status mountEntry(int rootfd, const MountEntry& m, bool deferReadonly, const RootfsPlan& plan) {
  TRY_ASSIGN(MountOptions o, parseMountOptions(m.options));
  if (o.bind || m.type == "bind") return bindEntry(rootfd, m, o, false);
  if (m.type == "cgroup") return cgroupEntry(rootfd, m, o, plan);
  if (m.type == "sysfs") return sysfsEntry(rootfd, m, o);
  if (m.type.empty()) {
    return Error{EINVAL, fmt::format("mount '{}' has no type", m.destination)};
  }
  return fsEntry(rootfd, m, o, deferReadonly ? MS_RDONLY : 0);
}

// pivot_root(2) refuses a new root whose parent mount is shared, which is
// what rootfsPropagation "shared" leaves behind (runc's
// rootfsParentMountPrivate).
Status makeParentMountPrivate(const std::string& rootfs) {
  TRY_ASSIGN(std::string text, fs::readFile("/proc/self/mountinfo"));
  auto mounts = parseMountInfo(text);
  const MountInfo* m = findMountFor(mounts, cleanPath(rootfs));
  if (!m) return ok();
  bool shared = std::any_of(
      m->optionalFields.begin(), m->optionalFields.end(),
      [](const std::string& f) { return strings::startsWith(f, "shared:"); });
  if (!shared) return ok();
  if (::mount(nullptr, m->mountPoint.c_str(), nullptr, MS_PRIVATE, nullptr) < 0) {
    return Error::fromErrno(fmt::format("make '{}' private", m->mountPoint));
  }
  return ok();
}

bool needsDevSetup(const RootfsPlan& plan) {
  for (const auto& m : plan.mounts) {
    if (cleanPath(m.destination) != "/dev") continue;
    auto o = parseMountOptions(m.options);
    if (m.type == "bind" || (o && o->bind)) return false;
  }
  return true;
}

// Returns whether the config mounts /dev read-only: devices are created
// first, the ro flag comes after (runc's finalizeRootfs).
bool devReadonly(const RootfsPlan& plan) {
  for (const auto& m : plan.mounts) {
    if (cleanPath(m.destination) != "/dev") continue;
    auto o = parseMountOptions(m.options);
    if (o && !o->bind && (o->flags & MS_RDONLY)) return true;
  }
  return false;
}

Status setupDev(int rootfd, const RootfsPlan& plan) {
  for (const auto& d : defaultDevices()) {
    bool configured = std::any_of(
        plan.devices.begin(), plan.devices.end(),
        [&](const DeviceEntry& c) { return cleanPath(c.path) == d.path; });
    if (!configured) TRY(createDevice(rootfd, d, plan.userNamespace));
  }
  for (const auto& d : plan.devices) TRY(createDevice(rootfd, d, plan.userNamespace));
  TRY(createDevSymlinks(rootfd));
  if (devReadonly(plan)) {
    TRY_ASSIGN(UniqueFd dev, openInRoot(rootfd, "/dev", O_PATH | O_DIRECTORY));
    TRY(setMountAttr(dev.get(), MOUNT_ATTR_RDONLY, 0, false, "/dev"));
  }
  return ok();
}

}  // namespace

Result<unsigned long> rootPropagationFlags(const std::string& name) {
  if (name.empty()) return static_cast<unsigned long>(MS_SLAVE | MS_REC);
  TRY_ASSIGN(MountOptions o, parseMountOptions({name}));
  if (o.propagation.size() != 1 || o.flags || o.bind || !o.data.empty()) {
    return Error{EINVAL, fmt::format("rootfsPropagation '{}' is not a "
                                     "propagation mode", name)};
  }
  return o.propagation.front();
}

Result<UniqueFd> prepareRootfs(const RootfsPlan& plan) {
  TRY_ASSIGN(unsigned long propagation,
             rootPropagationFlags(plan.rootfsPropagation));
  if (::mount(nullptr, "/", nullptr, propagation, nullptr) < 0) {
    return Error::fromErrno(
        fmt::format("set propagation of '/' to '{}'", plan.rootfsPropagation));
  }
  TRY(makeParentMountPrivate(plan.rootfs));
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr,
              MS_BIND | MS_REC, nullptr) < 0) {
    return Error::fromErrno(fmt::format("bind rootfs '{}'", plan.rootfs));
  }
  TRY_ASSIGN(UniqueFd rootfd,
             UniqueFd::open(plan.rootfs, O_PATH | O_DIRECTORY));
  for (const auto& m : plan.mounts) {
    bool isDev = cleanPath(m.destination) == "/dev";
    TRY(mountEntry(rootfd.get(), m, isDev, plan).context("mount '{}'", m.destination));
  }
  if (needsDevSetup(plan)) TRY(setupDev(rootfd.get(), plan));
  return rootfd;
}

Status enterRootfs(const RootfsPlan& plan, int rootfd) {
  if (::fchdir(rootfd) < 0) return Error::fromErrno("fchdir rootfs");
  if (plan.noPivot) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) {
      return Error::fromErrno(fmt::format("move '{}' to '/'", plan.rootfs));
    }
    if (::chroot(".") < 0) return Error::fromErrno("chroot rootfs");
    if (::chdir("/") < 0) return Error::fromErrno("chdir '/'");
    return ok();
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; it is
  // made rslave first so that detaching it cannot propagate to the host.
  if (::syscall(SYS_pivot_root, ".", ".") < 0) {
    return Error::fromErrno(fmt::format("pivot_root into '{}'", plan.rootfs));
  }
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
    return Error::fromErrno("make old root rslave");
  }
  if (::umount2(".", MNT_DETACH) < 0) return Error::fromErrno("detach old root");
  if (::chdir("/") < 0) return Error::fromErrno("chdir '/'");
  return ok();
}

}  // namespace nucleo::os
