#include "agent/containers/host_rootfs.hpp"

#include <sys/mount.h>

#include "base/fs.hpp"
#include "linux/mount.hpp"

namespace nucleo::agent {

Status mountHostRootfs(const std::string& target) {
  if (::mount("/", target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return Error::fromErrno("bind '/' on '" + target + "'");
  // Private: our detaches must not propagate back to the host's mounts.
  if (::mount(nullptr, target.c_str(), nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    auto e = Error::fromErrno("make '" + target + "' private");
    ::umount2(target.c_str(), MNT_DETACH);
    return e;
  }
  for (const char* sub : {"/proc", "/sys", "/dev"}) {
    std::string path = target + sub;
    // Several mounts may be stacked there; each detach takes a whole subtree.
    for (int i = 0; i < 16 && ::umount2(path.c_str(), MNT_DETACH) == 0; ++i) {
    }
  }
  return {};
}

Status unmountHostRootfs(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT)
    return Error::fromErrno("unmount '" + target + "'");
  return {};
}

Result<bool> hasMountsUnder(const std::string& path) {
  TRY_ASSIGN(std::string text, fs::readFile("/proc/self/mountinfo"));
  for (const auto& m : os::parseMountInfo(text)) {
    if (m.mountPoint == path || m.mountPoint.rfind(path + "/", 0) == 0) return true;
  }
  return false;
}

}  // namespace nucleo::agent
