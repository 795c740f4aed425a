#include "agent/containers/host_rootfs.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <vector>

#include "base/fs.hpp"
#include "linux/mount.hpp"

namespace nucleo::agent {

namespace {
// Detaches every mount of the copy at or under target+path, outermost first
// (a detach takes its whole subtree, so inner ones are then gone).
void detachUnder(const std::string& target, const std::string& path) {
  auto text = fs::readFile("/proc/self/mountinfo");
  if (!text) return;
  std::string prefix = target + path;
  std::vector<std::string> points;
  for (const auto& m : os::parseMountInfo(*text))
    if (m.mountPoint == prefix || m.mountPoint.rfind(prefix + "/", 0) == 0) points.push_back(m.mountPoint);
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  for (const auto& point : points) ::umount2(point.c_str(), MNT_DETACH);
}
}  // namespace

Status mountHostRootfs(const std::string& target, const std::string& hide) {
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
  if (!hide.empty()) detachUnder(target, hide);
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
