// finishRootfs: what runc does after pivot_root (readonlyPath, maskPath,
// setReadonly). The new mount API (open_tree, fsmount, move_mount; Linux 5.2)
// is used here because it works on fds alone: it does not need the
// container's own /proc to be mounted, unlike /proc/self/fd paths.

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux/mount.hpp"
#include "linux/rootfs.hpp"

namespace nucleo::os {
namespace {

constexpr uint64_t READONLY_PATH_ATTRS =
    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

Status attachTree(int treeFd, int targetFd, const std::string& what) {
  if (::move_mount(treeFd, "", targetFd, "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
    return Error::fromErrno(fmt::format("move_mount onto '{}'", what));
  }
  return ok();
}

Result<UniqueFd> cloneTree(int fd, bool recursive, const std::string& what) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                   (recursive ? AT_RECURSIVE : 0);
  int tree = ::open_tree(fd, "", flags);
  if (tree < 0) return Error::fromErrno(fmt::format("open_tree '{}'", what));
  return UniqueFd(tree);
}

// Opens a path that may legitimately be absent (masked and readonly paths
// list files some kernels lack); std::nullopt when it does not exist.
Result<std::optional<UniqueFd>> openOptional(int rootfd, const std::string& path) {
  auto fd = openInRoot(rootfd, path, O_PATH);
  if (fd) return std::optional<UniqueFd>(std::move(*fd));
  if (fd.error().code == ENOENT) return std::optional<UniqueFd>();
  return std::move(fd).error();
}

Status readonlyPath(int rootfd, const std::string& path) {
  TRY_ASSIGN(auto target, openOptional(rootfd, path));
  if (!target) return ok();
  TRY_ASSIGN(UniqueFd tree, cloneTree(target->get(), true, path));
  // Flags are set on the detached copy, so the path is never visible rw.
  TRY(setMountAttr(tree.get(), READONLY_PATH_ATTRS, 0, true, path));
  return attachTree(tree.get(), target->get(), path);
}

Result<UniqueFd> emptyReadonlyTmpfs(const std::string& what) {
  UniqueFd fsfd(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fsfd) return Error::fromErrno(fmt::format("fsopen tmpfs for '{}'", what));
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
      ::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
    return Error::fromErrno(fmt::format("create tmpfs for '{}'", what));
  }
  int mnt = ::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
  if (mnt < 0) return Error::fromErrno(fmt::format("fsmount tmpfs for '{}'", what));
  return UniqueFd(mnt);
}

// The container's /dev/null must really be the null device: a regular file
// planted there by the image would "mask" with its own content.
Result<UniqueFd> openDevNull(int rootfd) {
  TRY_ASSIGN(UniqueFd null, openInRoot(rootfd, "/dev/null", O_PATH));
  struct stat st;
  if (::fstat(null.get(), &st) < 0) return Error::fromErrno("stat '/dev/null'");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    return Error{EINVAL, "'/dev/null' in the container is not the null device"};
  }
  return null;
}

Status maskPath(int rootfd, const std::string& path) {
  TRY_ASSIGN(auto target, openOptional(rootfd, path));
  if (!target) return ok();
  struct stat st;
  if (::fstat(target->get(), &st) < 0) {
    return Error::fromErrno(fmt::format("stat '{}'", path));
  }
  if (S_ISDIR(st.st_mode)) {
    TRY_ASSIGN(UniqueFd tmpfs, emptyReadonlyTmpfs(path));
    return attachTree(tmpfs.get(), target->get(), path);
  }
  TRY_ASSIGN(UniqueFd null, openDevNull(rootfd));
  TRY_ASSIGN(UniqueFd tree, cloneTree(null.get(), false, "/dev/null"));
  return attachTree(tree.get(), target->get(), path);
}

}  // namespace

Status finishRootfs(const RootfsPlan& plan) {
  TRY_ASSIGN(UniqueFd root, UniqueFd::open("/", O_PATH | O_DIRECTORY));
  for (const auto& p : plan.readonlyPaths) {
    TRY(readonlyPath(root.get(), p).context("readonly path '{}'", p));
  }
  for (const auto& p : plan.maskedPaths) {
    TRY(maskPath(root.get(), p).context("masked path '{}'", p));
  }
  if (plan.readonly) {
    // mount_setattr changes only the ro bit, keeping nosuid/nodev that a user
    // namespace may have locked (what runc re-reads via statfs for).
    TRY(setMountAttr(root.get(), MOUNT_ATTR_RDONLY, 0, false, "/"));
  }
  if (!plan.rootfsPropagation.empty()) {
    TRY_ASSIGN(unsigned long flags, rootPropagationFlags(plan.rootfsPropagation));
    if (::mount(nullptr, "/", nullptr, flags, nullptr) < 0) {
      return Error::fromErrno(fmt::format("set propagation of '/' to '{}'",
                                          plan.rootfsPropagation));
    }
  }
  return ok();
}

}  // namespace nucleo::os
