#include "images/overlay.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

namespace nucleo::images {

static Status mountNewApi(const std::vector<std::string>& lowers, const std::string& upper,
                          const std::string& work, const std::string& target,
                          bool* unsupported) {
  UniqueFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd) return Error::fromErrno("fsopen overlay");
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", lowers[i].c_str(), 0) != 0) {
      *unsupported = i == 0 && errno == EINVAL;
      return Error::fromErrno(fmt::format("overlay lowerdir '{}'", lowers[i]));
    }
  }
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) != 0)
    return Error::fromErrno("overlay upperdir '" + upper + "'");
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) != 0)
    return Error::fromErrno("overlay workdir '" + work + "'");
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return Error::fromErrno("create overlay");
  UniqueFd mnt(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return Error::fromErrno("fsmount overlay");
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return Error::fromErrno("move_mount");
  return ok();
}

static std::string parentOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Relative lowerdirs keep the option string short; mount(2) resolves them
// against the working directory, so the process changes it for the call.
static Status mountClassic(const std::vector<std::string>& lowers, const std::string& upper,
                           const std::string& work, const std::string& target) {
  std::string base = parentOf(lowers.front());
  for (const auto& l : lowers)
    if (parentOf(l) != base) return Error::make("overlay: lowers must share one parent directory");
  std::string data = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i)
    data += (i ? ":" : "") + lowers[i].substr(base.size() + 1);
  data += ",upperdir=" + upper + ",workdir=" + work;
  TRY_ASSIGN(UniqueFd old, UniqueFd::open(".", O_PATH | O_DIRECTORY));
  if (::chdir(base.c_str()) != 0) return Error::fromErrno("chdir '" + base + "'");
  int rc = ::mount("overlay", target.c_str(), "overlay", 0, data.c_str());
  int err = errno;
  if (::fchdir(old.get()) != 0) return Error::fromErrno("restore working directory");
  if (rc != 0) return Error::fromErrno("mount overlay", err);
  return ok();
}

Status mountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target) {
  if (lowers.empty()) return Error::make("overlay on '{}': no layers", target);
  bool unsupported = false;
  auto s = mountNewApi(lowers, upper, work, target, &unsupported);
  if (!s && unsupported) s = mountClassic(lowers, upper, work, target);
  return std::move(s).context("mount overlay on '{}'", target);
}

Status unmountOverlay(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT)
    return Error::fromErrno("unmount '" + target + "'");
  return ok();
}

}  // namespace nucleo::images
