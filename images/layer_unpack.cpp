#include "images/layer_unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>

#include "base/unique_fd.hpp"

namespace nucleo::images {

static constexpr std::string_view WHITEOUT_PREFIX = ".wh.";
static constexpr std::string_view OPAQUE_MARKER = ".wh..wh..opq";

Result<std::vector<std::string>> splitEntryName(std::string_view name) {
  if (!name.empty() && name.front() == '/') return Error::make("absolute path refused");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    auto part = name.substr(start, end - start);
    if (part == "..") return Error::make("'..' refused");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

struct DeferredTimes {
  std::vector<std::string> path;
  timespec times[2];
};

class Unpacker {
 public:
  Unpacker(int root, const UnpackOptions& options) : root_(root), options_(options) {}
  Status entry(archive* a, archive_entry* e, UnpackStats& stats);
  Status finish();

 private:
  Result<int> parentOf(const std::vector<std::string>& path);
  Status removeExisting(int parent, const std::string& name, bool keepDirectory);
  Status whiteout(int parent, const std::string& name, UnpackStats& stats);
  Status hardlink(archive_entry* e, int parent, const std::string& name);
  Status directory(archive_entry* e, int parent, const std::vector<std::string>& path);
  Status regular(archive* a, archive_entry* e, int parent, const std::string& name,
                 UnpackStats& stats);
  Status special(archive_entry* e, int parent, const std::string& name);
  Status metadata(int fd, archive_entry* e);
  Status owner(int parent, const std::string& name, archive_entry* e);

  int root_;
  const UnpackOptions& options_;
  // The last parent opened: entries come grouped by directory.
  std::string cachedKey_;
  UniqueFd cachedFd_;
  std::vector<DeferredTimes> dirTimes_;
};

Result<int> Unpacker::parentOf(const std::vector<std::string>& path) {
  std::string key;
  for (size_t i = 0; i + 1 < path.size(); ++i) key += path[i] + "/";
  if (path.size() <= 1) return root_;
  if (cachedFd_ && key == cachedKey_) return cachedFd_.get();
  cachedFd_.reset();
  UniqueFd current;
  std::string walked;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    int at = current ? current.get() : root_;
    walked += (walked.empty() ? "" : "/") + path[i];
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(at, path[i].c_str(), flags);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(at, path[i].c_str(), 0755) != 0 && errno != EEXIST)
        return Error::fromErrno("mkdir '" + walked + "'");
      fd = ::openat(at, path[i].c_str(), flags);
    }
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
      return Error::make("parent '{}' is a symlink or not a directory: refused", walked);
    if (fd < 0) return Error::fromErrno("open '" + walked + "'");
    current.reset(fd);
  }
  cachedKey_ = key;
  cachedFd_ = std::move(current);
  return cachedFd_.get();
}

Status Unpacker::removeExisting(int parent, const std::string& name, bool keepDirectory) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return ok();
    return Error::fromErrno("stat");
  }
  if (S_ISDIR(st.st_mode)) {
    if (keepDirectory) return ok();
    cachedKey_.clear();  // the cached parent may be this directory: walk again
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0)
      return Error::fromErrno("replace directory");
    return ok();
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0) return Error::fromErrno("replace");
  return ok();
}

Status Unpacker::whiteout(int parent, const std::string& name, UnpackStats& stats) {
  ++stats.whiteouts;
  if (name == OPAQUE_MARKER) {
    if (!options_.overlayWhiteouts) return ok();
    if (::fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) != 0)
      return Error::fromErrno("set trusted.overlay.opaque");
    return ok();
  }
  std::string target = name.substr(WHITEOUT_PREFIX.size());
  if (target.empty() || target == "." || target == "..")
    return Error::make("whiteout of '{}' refused", target);
  TRY(removeExisting(parent, target, false));
  if (!options_.overlayWhiteouts) return ok();
  if (::mknodat(parent, target.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0)
    return Error::fromErrno("make whiteout device");
  return ok();
}

Status Unpacker::hardlink(archive_entry* e, int parent, const std::string& name) {
  auto targetPath = splitEntryName(archive_entry_hardlink(e));
  if (!targetPath) return std::move(targetPath).error().context("hard link target");
  if (targetPath->empty()) return Error::make("hard link to the layer root refused");
  TRY(removeExisting(parent, name, false));
  // Resolving the target may replace the cached parent; keep ours open.
  UniqueFd ownParent(::fcntl(parent, F_DUPFD_CLOEXEC, 0));
  if (!ownParent) return Error::fromErrno("dup");
  TRY_ASSIGN(int targetParent, parentOf(*targetPath));
  if (::linkat(targetParent, targetPath->back().c_str(), ownParent.get(), name.c_str(), 0) != 0)
    return Error::fromErrno("link to '" + std::string(archive_entry_hardlink(e)) + "'");
  return ok();
}

Status Unpacker::metadata(int fd, archive_entry* e) {
  if (options_.preserveOwners &&
      ::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)),
               static_cast<gid_t>(archive_entry_gid(e))) != 0)
    return Error::fromErrno("chown");
  // After chown, which clears set-id bits.
  if (::fchmod(fd, archive_entry_perm(e)) != 0) return Error::fromErrno("chmod");
  const char* key;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    std::string_view k(key);
    if (k.substr(0, 16) == "trusted.overlay.")
      return Error::make("xattr '{}' refused (overlayfs metadata)", k);
    if (::fsetxattr(fd, key, value, size, 0) != 0)
      return Error::fromErrno(fmt::format("set xattr '{}'", k));
  }
  return ok();
}

Status Unpacker::owner(int parent, const std::string& name, archive_entry* e) {
  if (options_.preserveOwners &&
      ::fchownat(parent, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                 static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0)
    return Error::fromErrno("chown");
  timespec times[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                       {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
  if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return Error::fromErrno("set times");
  return ok();
}

Status Unpacker::directory(archive_entry* e, int parent, const std::vector<std::string>& path) {
  const std::string& name = path.back();
  TRY(removeExisting(parent, name, true));
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::fromErrno("mkdir");
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open directory");
  TRY(metadata(fd.get(), e));
  // Creating entries inside changes a directory's mtime: set it at the end.
  dirTimes_.push_back({path,
                       {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                        {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}});
  return ok();
}

Status Unpacker::regular(archive* a, archive_entry* e, int parent, const std::string& name,
                         UnpackStats& stats) {
  TRY(removeExisting(parent, name, false));
  UniqueFd fd(::openat(parent, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::fromErrno("create");
  const void* buffer;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(a, &buffer, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Error::make("read: {}", archive_error_string(a));
    const char* p = static_cast<const char*>(buffer);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::fromErrno("write");
      p += n, size -= static_cast<size_t>(n), offset += n;
      stats.bytes += static_cast<uint64_t>(n);
    }
  }
  // Sparse files end in a hole that no block covers.
  if (::ftruncate(fd.get(), archive_entry_size(e)) != 0) return Error::fromErrno("truncate");
  TRY(metadata(fd.get(), e));
  timespec times[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                       {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
  if (::futimens(fd.get(), times) != 0) return Error::fromErrno("set times");
  return ok();
}

Status Unpacker::special(archive_entry* e, int parent, const std::string& name) {
  TRY(removeExisting(parent, name, false));
  auto type = archive_entry_filetype(e);
  if (type == AE_IFLNK) {
    const char* target = archive_entry_symlink(e);
    if (::symlinkat(target ? target : "", parent, name.c_str()) != 0)
      return Error::fromErrno("symlink");
    return owner(parent, name, e);
  }
  mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
  if (::mknodat(parent, name.c_str(), kind | 0600, archive_entry_rdev(e)) != 0)
    return Error::fromErrno("mknod");
  TRY(owner(parent, name, e));
  if (::fchmodat(parent, name.c_str(), archive_entry_perm(e), 0) != 0)
    return Error::fromErrno("chmod");
  return ok();
}

Status Unpacker::entry(archive* a, archive_entry* e, UnpackStats& stats) {
  TRY_ASSIGN(auto path, splitEntryName(archive_entry_pathname(e)));
  ++stats.entries;
  if (path.empty()) return ok();  // "./": the layer root is ours
  TRY_ASSIGN(int parent, parentOf(path));
  const std::string& name = path.back();
  if (name.substr(0, WHITEOUT_PREFIX.size()) == WHITEOUT_PREFIX)
    return whiteout(parent, name, stats);
  if (archive_entry_hardlink(e)) return hardlink(e, parent, name);
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR: return directory(e, parent, path);
    case AE_IFREG: return regular(a, e, parent, name, stats);
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: return special(e, parent, name);
    case AE_IFSOCK: return ok();  // sockets are not content; tar skips them too
    default: return Error::make("unknown file type {:o}", archive_entry_filetype(e));
  }
}

Status Unpacker::finish() {
  for (const auto& d : dirTimes_) {
    cachedFd_.reset();
    TRY_ASSIGN(int parent, parentOf(d.path));
    if (::utimensat(parent, d.path.back().c_str(), d.times, AT_SYMLINK_NOFOLLOW) != 0)
      return Error::fromErrno("set times of '" + d.path.back() + "'");
  }
  return ok();
}

}  // namespace

Result<UnpackStats> unpackLayer(int fd, int dirfd, const UnpackOptions& options,
                                std::string_view what) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) return Error::make("{}: libarchive: out of memory", what);
  // Only in-process decoders: filter_all would run external programs.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_fd(a.get(), fd, 1 << 17) != ARCHIVE_OK)
    return Error::make("{}: {}", what, archive_error_string(a.get()));
  Unpacker unpacker(dirfd, options);
  UnpackStats stats;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      return Error::make("{}: not a valid layer archive: {}", what, archive_error_string(a.get()));
    if (auto s = unpacker.entry(a.get(), e, stats); !s)
      return std::move(s).error().context("{}: entry '{}'", what, archive_entry_pathname(e));
  }
  if (auto s = unpacker.finish(); !s) return std::move(s).error().context("{}", what);
  return stats;
}

}  // namespace nucleo::images
