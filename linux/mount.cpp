#include "linux/mount.hpp"

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <optional>

#include "base/strings.hpp"

namespace nucleo::os {
namespace {

// openat2 returns EAGAIN when a concurrent rename might have let ".." escape;
// retrying is what the man page asks for.
constexpr int OPENAT2_RETRIES = 32;

int openat2Raw(int dirfd, const char* path, uint64_t flags, mode_t mode,
               uint64_t resolve) {
  struct open_how how = {};
  how.flags = flags;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  int fd = -1;
  for (int i = 0; i < OPENAT2_RETRIES; ++i) {
    fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

std::string unescapeMountInfo(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<MountInfo> parseMountInfoLine(std::string_view line) {
  auto fields = strings::split(line, ' ', true);
  size_t dash = 0;
  while (dash < fields.size() && fields[dash] != "-") ++dash;
  // The fs type and source after "-" are required; super options may be
  // absent on very old kernels.
  if (dash < 6 || fields.size() < dash + 3) return std::nullopt;
  auto id = strings::toInt(fields[0]);
  auto parent = strings::toInt(fields[1]);
  if (!id || !parent) return std::nullopt;
  MountInfo m;
  m.id = static_cast<int>(*id);
  m.parent = static_cast<int>(*parent);
  m.majorMinor = fields[2];
  m.root = unescapeMountInfo(fields[3]);
  m.mountPoint = unescapeMountInfo(fields[4]);
  m.options = fields[5];
  m.optionalFields.assign(fields.begin() + 6, fields.begin() + dash);
  m.fsType = fields[dash + 1];
  m.source = unescapeMountInfo(fields[dash + 2]);
  if (dash + 3 < fields.size()) m.superOptions = fields[dash + 3];
  return m;
}

bool isPathPrefix(std::string_view prefix, std::string_view path) {
  if (prefix == "/") return true;
  if (!strings::startsWith(path, prefix)) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

Result<UniqueFd> createLastComponent(int parentfd, const std::string& name,
                                     bool directory, const std::string& path) {
  if (directory) {
    if (::mkdirat(parentfd, name.c_str(), 0755) < 0 && errno != EEXIST) {
      return Error::fromErrno(fmt::format("mkdir '{}'", path));
    }
    return UniqueFd();
  }
  int fd = ::openat(parentfd, name.c_str(),
                    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) {
    return Error::fromErrno(fmt::format("create '{}'", path));
  }
  return UniqueFd(fd);
}

Status checkTargetType(int fd, bool directory, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return Error::fromErrno("stat '" + path + "'");
  if (directory && !S_ISDIR(st.st_mode)) {
    return Error{ENOTDIR, fmt::format("mount target '{}' is not a directory",
                                      path)};
  }
  if (!directory && S_ISDIR(st.st_mode)) {
    return Error{EISDIR, fmt::format("mount target '{}' is a directory", path)};
  }
  return ok();
}

}  // namespace

Result<UniqueFd> openInRoot(int rootfd, const std::string& path, int flags,
                            mode_t mode) {
  const char* p = path.empty() ? "." : path.c_str();
  int fd = openat2Raw(rootfd, p, static_cast<uint64_t>(flags) | O_CLOEXEC, mode,
                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return Error::fromErrno(fmt::format("open '{}' in root", path));
  return UniqueFd(fd);
}

Result<UniqueFd> ensureMountTarget(int rootfd, const std::string& path,
                                   bool directory) {
  auto parts = strings::split(path, '/', true);
  TRY_ASSIGN(UniqueFd current,
             openInRoot(rootfd, "/", O_PATH | O_DIRECTORY));
  std::string prefix;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& name = parts[i];
    prefix += "/" + name;
    bool last = i + 1 == parts.size();
    if (name == "." || name == "..") {
      TRY_ASSIGN(current, openInRoot(rootfd, prefix, O_PATH | O_DIRECTORY));
      continue;
    }
    // Resolving the whole prefix again (not `name` under `current`) keeps a
    // symlinked component confined: the kernel clamps it to rootfd.
    auto next = openInRoot(rootfd, prefix, O_PATH);
    if (!next && next.error().code == ENOENT) {
      TRY(createLastComponent(current.get(), name, directory || !last, prefix));
      next = openInRoot(rootfd, prefix, O_PATH);
    }
    if (!next) return std::move(next).error();
    current = std::move(*next);
  }
  TRY(checkTargetType(current.get(), directory, path.empty() ? "/" : path));
  return current;
}

std::string fdPath(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

Status mountOnFd(const std::string& source, int targetFd,
                 const std::string& fsType, unsigned long flags,
                 const std::string& data, std::string_view what) {
  const std::string target = fdPath(targetFd);
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
              fsType.empty() ? nullptr : fsType.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) < 0) {
    return Error::fromErrno(
        fmt::format("mount '{}' (type '{}') on '{}'", source, fsType, what));
  }
  return ok();
}

Status setMountAttr(int fd, uint64_t set, uint64_t clear, bool recursive,
                    std::string_view what) {
  if (set == 0 && clear == 0) return ok();
  struct mount_attr attr = {};
  attr.attr_set = set;
  attr.attr_clr = clear;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::mount_setattr(fd, "", flags, &attr, sizeof attr) < 0) {
    return Error::fromErrno(fmt::format("mount_setattr '{}'", what));
  }
  return ok();
}

void msFlagsToAttr(unsigned long set, unsigned long clear, uint64_t* attrSet,
                   uint64_t* attrClear) {
  struct Pair {
    unsigned long ms;
    uint64_t attr;
  };
  constexpr Pair PAIRS[] = {{MS_RDONLY, MOUNT_ATTR_RDONLY},
                            {MS_NOSUID, MOUNT_ATTR_NOSUID},
                            {MS_NODEV, MOUNT_ATTR_NODEV},
                            {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
                            {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME},
                            {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW}};
  *attrSet = *attrClear = 0;
  for (const auto& p : PAIRS) {
    if (set & p.ms) *attrSet |= p.attr;
    if (clear & p.ms) *attrClear |= p.attr;
  }
  // One atime mode wins, strictest last as mount(8) does.
  if (set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) {
    *attrClear |= MOUNT_ATTR__ATIME;
    if (set & MS_NOATIME) {
      *attrSet |= MOUNT_ATTR_NOATIME;
    } else if (set & MS_STRICTATIME) {
      *attrSet |= MOUNT_ATTR_STRICTATIME;
    }
  }
}

Result<uint64_t> mountIdOf(int fd) {
  struct statx stx = {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID,
              &stx) < 0) {
    return Error::fromErrno("statx");
  }
  if (!(stx.stx_mask & STATX_MNT_ID)) {
    return Error{ENOSYS, "statx: kernel does not report STATX_MNT_ID"};
  }
  return static_cast<uint64_t>(stx.stx_mnt_id);
}

Result<bool> isMountRoot(int fd) {
  struct statx stx = {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE,
              &stx) < 0) {
    return Error::fromErrno("statx");
  }
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    return Error{ENOSYS, "statx: kernel does not report STATX_ATTR_MOUNT_ROOT"};
  }
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

std::vector<MountInfo> parseMountInfo(std::string_view text) {
  std::vector<MountInfo> out;
  for (const auto& line : strings::split(text, '\n', true)) {
    if (auto m = parseMountInfoLine(line)) out.push_back(std::move(*m));
  }
  return out;
}

const MountInfo* findMountFor(const std::vector<MountInfo>& mounts,
                              std::string_view path) {
  const MountInfo* best = nullptr;
  // Later entries stack over earlier ones at the same mount point.
  for (const auto& m : mounts) {
    if (!isPathPrefix(m.mountPoint, path)) continue;
    if (!best || m.mountPoint.size() >= best->mountPoint.size()) best = &m;
  }
  return best;
}

}  // namespace nucleo::os
