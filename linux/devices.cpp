// Device nodes and /dev symlinks inside a container rootfs, following runc's
// createDevices/setupPtmx/setupDevSymlinks.

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/strings.hpp"
#include "linux/mount.hpp"
#include "linux/rootfs.hpp"

namespace nucleo::os {
namespace {

constexpr uint32_t DEFAULT_DEVICE_MODE = 0666;

std::pair<std::string, std::string> splitParent(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return {"/", path};
  return {pos == 0 ? "/" : path.substr(0, pos), path.substr(pos + 1)};
}

Result<mode_t> deviceFileType(const DeviceEntry& d) {
  switch (d.type) {
    case 'c':
    case 'u':
      return static_cast<mode_t>(S_IFCHR);
    case 'b':
      return static_cast<mode_t>(S_IFBLK);
    case 'p':
      return static_cast<mode_t>(S_IFIFO);
    default:
      return Error{EINVAL, fmt::format("device '{}': unknown type '{}'", d.path,
                                       d.type)};
  }
}

// In a user namespace mknod is EPERM: the host's node is bind-mounted onto an
// empty file instead, which is why the host must have the same path.
Status bindDevice(int rootfd, const DeviceEntry& d) {
  TRY_ASSIGN(UniqueFd target, ensureMountTarget(rootfd, d.path, false));
  return mountOnFd(d.path, target.get(), "", MS_BIND, "", d.path);
}

Status ownAndChmod(int parentfd, const std::string& name, const DeviceEntry& d) {
  if (::fchownat(parentfd, name.c_str(), d.uid.value_or(0), d.gid.value_or(0),
                 AT_SYMLINK_NOFOLLOW) < 0) {
    return Error::fromErrno(fmt::format("chown device '{}'", d.path));
  }
  // Set after mknod so that the process umask does not trim the mode.
  mode_t perm = d.fileMode.value_or(DEFAULT_DEVICE_MODE) & 07777;
  if (::fchmodat(parentfd, name.c_str(), perm, 0) < 0) {
    return Error::fromErrno(fmt::format("chmod device '{}'", d.path));
  }
  return ok();
}

}  // namespace

std::vector<DeviceEntry> defaultDevices() {
  auto dev = [](const char* path, int64_t major, int64_t minor) {
    DeviceEntry d;
    d.path = path;
    d.type = 'c';
    d.major = major;
    d.minor = minor;
    d.fileMode = DEFAULT_DEVICE_MODE;
    d.uid = 0;
    d.gid = 0;
    return d;
  };
  return {dev("/dev/null", 1, 3),    dev("/dev/zero", 1, 5),
          dev("/dev/full", 1, 7),    dev("/dev/random", 1, 8),
          dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0)};
}

Status createDevice(int rootfd, const DeviceEntry& d, bool userNamespace) {
  TRY_ASSIGN(mode_t fileType, deviceFileType(d));
  if (d.major < 0 || d.minor < 0 || d.major > 0xfff || d.minor > 0xfffff) {
    return Error{EINVAL, fmt::format("device '{}': bad number {}:{}", d.path,
                                     d.major, d.minor)};
  }
  auto [parent, name] = splitParent(d.path);
  if (name.empty() || name == "." || name == "..") {
    return Error{EINVAL, fmt::format("device path '{}' has no file name", d.path)};
  }
  if (userNamespace && fileType != S_IFIFO) return bindDevice(rootfd, d);
  TRY_ASSIGN(UniqueFd parentFd, ensureMountTarget(rootfd, parent, true));
  dev_t num = fileType == S_IFIFO ? 0 : makedev(d.major, d.minor);
  if (::mknodat(parentFd.get(), name.c_str(), fileType | 0600, num) < 0) {
    if (errno == EEXIST) return ok();
    if (errno == EPERM && fileType != S_IFIFO) return bindDevice(rootfd, d);
    return Error::fromErrno(fmt::format("mknod device '{}'", d.path));
  }
  return ownAndChmod(parentFd.get(), name, d);
}

Status createDevSymlinks(int rootfd) {
  TRY_ASSIGN(UniqueFd dev, ensureMountTarget(rootfd, "/dev", true));
  std::vector<std::pair<const char*, const char*>> links = {
      {"/proc/self/fd", "fd"},
      {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"},
  };
  // runc links /dev/core only when the kernel offers /proc/kcore.
  if (::access("/proc/kcore", F_OK) == 0) links.emplace_back("/proc/kcore", "core");
  for (auto [target, name] : links) {
    if (::symlinkat(target, dev.get(), name) < 0 && errno != EEXIST) {
      return Error::fromErrno(fmt::format("symlink '/dev/{}'", name));
    }
  }
  // A devpts "newinstance" has its own ptmx; /dev/ptmx must lead to it, not
  // to a host node the image might ship.
  if (::unlinkat(dev.get(), "ptmx", 0) < 0 && errno != ENOENT) {
    return Error::fromErrno("remove '/dev/ptmx'");
  }
  if (::symlinkat("pts/ptmx", dev.get(), "ptmx") < 0) {
    return Error::fromErrno("symlink '/dev/ptmx'");
  }
  return ok();
}

}  // namespace nucleo::os
