#include "linux/protected_exe.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/unique_fd.hpp"

extern char** environ;

namespace nucleo::os {
namespace {

constexpr int SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

Status execAt(int fd, char** argv) {
  ::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  return Error::fromErrno("re-execute the runtime from its protected copy");
}

// The binary's directory as an overlay lower layer: the binary is reached
// through a mount that is read-only for good.
Status execThroughReadOnlyOverlay(char** argv, const std::string& emptyDir) {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return Error::fromErrno("readlink /proc/self/exe");
  self[n] = '\0';
  std::string path(self, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || path.find_first_of(":,\\") != std::string::npos ||
      emptyDir.find_first_of(":,\\") != std::string::npos)
    return Error::make("'{}' cannot be an overlay layer", path);
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  int fs = ::fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return Error::fromErrno("fsopen overlay");
  UniqueFd fsFd(fs);
  std::string lower = dir + ":" + emptyDir;
  if (::fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lower.c_str(), 0) < 0 ||
      ::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Error::fromErrno("overlay of '" + dir + "'");
  int mnt = ::fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (mnt < 0) return Error::fromErrno("fsmount overlay");
  UniqueFd mntFd(mnt);
  TRY_ASSIGN(UniqueFd exe, UniqueFd::openat(mnt, path.substr(slash + 1), O_PATH));
  return execAt(exe.get(), argv);
}

Status execFromSealedMemfd(char** argv) {
  TRY_ASSIGN(UniqueFd self, UniqueFd::open("/proc/self/exe", O_RDONLY));
  struct stat st;
  if (::fstat(self.get(), &st) < 0) return Error::fromErrno("stat /proc/self/exe");
  int memfd = ::memfd_create("nucleo", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) return Error::fromErrno("memfd_create");
  UniqueFd copy(memfd);
  off_t offset = 0;
  while (offset < st.st_size) {
    ssize_t n = ::sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0) return Error::fromErrno("copy /proc/self/exe to memfd");
    if (n == 0) break;
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, SEALS) < 0) return Error::fromErrno("seal memfd");
  return execAt(copy.get(), argv);
}

}  // namespace

bool runningFromProtectedCopy() {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd exe(fd);
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & SEALS) == SEALS) return true;
  struct statfs st;
  // A read-only overlay mounted by us is detached: it has no mount point a
  // process could remount. Only our re-exec puts the binary on one.
  return ::fstatfs(fd, &st) == 0 && st.f_type == OVERLAYFS_SUPER_MAGIC &&
         (st.f_flags & ST_RDONLY) && std::getenv("_NUCLEO_PROTECTED_EXE") != nullptr;
}

Status ensureProtectedSelf(char** argv, const std::string& emptyDir) {
  bool protectedCopy = runningFromProtectedCopy();
  ::unsetenv("_NUCLEO_PROTECTED_EXE");
  if (protectedCopy) return ok();
  ::setenv("_NUCLEO_PROTECTED_EXE", "1", 1);
  // Where the original binary lives, for the helpers installed beside it
  // (nucleo-pull): from the protected copy, /proc/self/exe no longer says.
  char self[PATH_MAX];
  if (ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1); n > 0) {
    std::string path(self, static_cast<size_t>(n));
    ::setenv("_NUCLEO_EXE_DIR", path.substr(0, path.rfind('/')).c_str(), 1);
  }
  Status overlay = execThroughReadOnlyOverlay(argv, emptyDir);
  ::unsetenv("_NUCLEO_PROTECTED_EXE");
  Status memfd = execFromSealedMemfd(argv);
  return std::move(memfd).error().context("{}; then", overlay.error().message);
}

}  // namespace nucleo::os
