#include "agent/fetcher/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "images/layer_unpack.hpp"

namespace nucleo::agent::fetcher {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

class Extractor {
 public:
  explicit Extractor(int root) : root_(root) {}
  Status entry(archive* a, archive_entry* e, ExtractStats& stats);

 private:
  Result<int> parentOf(const std::vector<std::string>& path);
  Status regular(archive* a, archive_entry* e, int parent, const std::string& name,
                 ExtractStats& stats);

  int root_;
  std::string cachedKey_;
  UniqueFd cachedFd_;
};

Result<int> Extractor::parentOf(const std::vector<std::string>& path) {
  if (path.size() <= 1) return root_;
  std::string key;
  for (size_t i = 0; i + 1 < path.size(); ++i) key += path[i] + "/";
  if (cachedFd_ && key == cachedKey_) return cachedFd_.get();
  std::vector<std::string> dirs(path.begin(), path.end() - 1);
  TRY_ASSIGN(cachedFd_, openDirs(root_, dirs, true));
  cachedKey_ = key;
  return cachedFd_.get();
}

// Replaces whatever is at `name` unless it is a directory we may keep.
Status clearFor(int parent, const std::string& name, bool keepDirectory) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? ok() : Error::fromErrno("stat");
  if (S_ISDIR(st.st_mode) && keepDirectory) return ok();
  return removeTreeAt(parent, name);
}

Status Extractor::regular(archive* a, archive_entry* e, int parent, const std::string& name,
                          ExtractStats& stats) {
  TRY(clearFor(parent, name, false));
  UniqueFd fd(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
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
  if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0)
    return Error::fromErrno("truncate");
  if (::fchmod(fd.get(), archive_entry_perm(e) & 0777) != 0) return Error::fromErrno("chmod");
  return ok();
}

Status Extractor::entry(archive* a, archive_entry* e, ExtractStats& stats) {
  const char* rawName = archive_entry_pathname(e);
  TRY_ASSIGN(auto path, images::splitEntryName(rawName ? rawName : ""));
  ++stats.entries;
  if (path.empty()) return ok();
  TRY_ASSIGN(int parent, parentOf(path));
  const std::string& name = path.back();
  if (const char* link = archive_entry_hardlink(e)) {
    TRY_ASSIGN(auto target, images::splitEntryName(link));
    if (target.empty()) return Error::make("hard link to the archive root refused");
    TRY(clearFor(parent, name, false));
    UniqueFd ownParent(::fcntl(parent, F_DUPFD_CLOEXEC, 0));
    if (!ownParent) return Error::fromErrno("dup");
    TRY_ASSIGN(int targetParent, parentOf(target));
    if (::linkat(targetParent, target.back().c_str(), ownParent.get(), name.c_str(), 0) != 0)
      return Error::fromErrno(fmt::format("link to '{}'", link));
    return ok();
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR: {
      TRY(clearFor(parent, name, true));
      if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST)
        return Error::fromErrno("mkdir");
      if (::fchmodat(parent, name.c_str(), (archive_entry_perm(e) & 0777) | 0700, 0) != 0)
        return Error::fromErrno("chmod");
      return ok();
    }
    case AE_IFREG: return regular(a, e, parent, name, stats);
    case AE_IFLNK: {
      TRY(clearFor(parent, name, false));
      const char* target = archive_entry_symlink(e);
      // The target is not checked: nothing here follows it, and the task
      // resolves it inside its own container.
      if (::symlinkat(target ? target : "", parent, name.c_str()) != 0)
        return Error::fromErrno("symlink");
      return ok();
    }
    default:
      return ok();  // devices, FIFOs, sockets: not sandbox content
  }
}

Status unpackInto(int archiveFd, int dirfd, ExtractStats& stats) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) return Error::make("libarchive: out of memory");
  // In-process decoders only: filter_all would run external programs.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_fd(a.get(), archiveFd, 1 << 17) != ARCHIVE_OK)
    return Error::make("{}", archive_error_string(a.get()));
  Extractor extractor(dirfd);
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) return ok();
    if (r < ARCHIVE_WARN) return Error::make("not a valid archive: {}", archive_error_string(a.get()));
    if (auto s = extractor.entry(a.get(), e, stats); !s) {
      const char* name = archive_entry_pathname(e);
      return std::move(s).error().context("entry '{}'", name ? name : "");
    }
  }
}

// Moves the extracted tree into place: missing names are renamed over,
// directories merged, anything else replaced.
Status mergeInto(int src, int dst, const std::string& where) {
  UniqueFd listFd(::openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listFd) return Error::fromErrno("open");
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(listFd.get()), ::closedir);
  if (!dir) return Error::fromErrno("opendir");
  listFd.release();
  while (dirent* d = ::readdir(dir.get())) {
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    struct stat from, to;
    if (::fstatat(src, name.c_str(), &from, AT_SYMLINK_NOFOLLOW) != 0) return Error::fromErrno("stat");
    bool exists = ::fstatat(dst, name.c_str(), &to, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(from.st_mode) && S_ISDIR(to.st_mode)) {
      TRY_ASSIGN(auto s, openDirs(src, {name}, false));
      TRY_ASSIGN(auto t, openDirs(dst, {name}, false));
      TRY(mergeInto(s.get(), t.get(), where + name + "/"));
      continue;
    }
    if (exists && (S_ISDIR(to.st_mode) || S_ISDIR(from.st_mode))) TRY(removeTreeAt(dst, name));
    if (::renameat(src, name.c_str(), dst, name.c_str()) != 0)
      return Error::fromErrno(fmt::format("move '{}{}' into place", where, name));
  }
  return ok();
}

}  // namespace

bool isArchive(std::string_view name) {
  for (std::string_view ext : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
                               ".tar.zst", ".tzst", ".zip"})
    if (endsWith(name, ext) && name.size() > ext.size()) return true;
  return false;
}

bool isPlainGzip(std::string_view name) {
  return endsWith(name, ".gz") && name.size() > 3 && !isArchive(name);
}

Status gunzipTo(int gzFd, int dirfd, const std::string& name) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  if (!a) return Error::make("libarchive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_raw(a.get());
  archive_entry* e = nullptr;
  if (archive_read_open_fd(a.get(), gzFd, 1 << 17) != ARCHIVE_OK ||
      archive_read_next_header(a.get(), &e) != ARCHIVE_OK || archive_filter_count(a.get()) < 2)
    return Error::make("not a gzip file: {}",
                       archive_error_string(a.get()) ? archive_error_string(a.get()) : "no gzip header");
  static std::atomic<uint64_t> counter{0};
  std::string tmp = fmt::format(".{}.gunzip-{}-{}", name, ::getpid(), counter++);
  UniqueFd out(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return Error::fromErrno("create");
  Status written = [&]() -> Status {
    std::vector<char> buffer(1 << 17);
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buffer.data(), buffer.size());
      if (n < 0) return Error::make("read: {}", archive_error_string(a.get()));
      if (n == 0) return ok();
      for (const char* p = buffer.data(); n > 0;) {
        ssize_t w = ::write(out.get(), p, static_cast<size_t>(n));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Error::fromErrno("write");
        p += w, n -= w;
      }
    }
  }();
  if (written && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0)
    written = Error::fromErrno(fmt::format("rename into '{}'", name));
  if (!written) ::unlinkat(dirfd, tmp.c_str(), 0);
  return written;
}

Result<UniqueFd> openDirs(int dirfd, const std::vector<std::string>& parts, bool create) {
  UniqueFd current(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!current) return Error::fromErrno("dup");
  std::string walked;
  for (const auto& part : parts) {
    walked += (walked.empty() ? "" : "/") + part;
    constexpr int FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(current.get(), part.c_str(), FLAGS);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
        return Error::fromErrno(fmt::format("mkdir '{}'", walked));
      fd = ::openat(current.get(), part.c_str(), FLAGS);
    }
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
      return Error::make("'{}' is a symlink or not a directory: refused", walked);
    if (fd < 0) return Error::fromErrno(fmt::format("open '{}'", walked));
    current.reset(fd);
  }
  return current;
}

Status removeTreeAt(int dirfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? ok() : Error::fromErrno(fmt::format("stat '{}'", name));
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Error::fromErrno(fmt::format("remove '{}'", name));
    return ok();
  }
  {
    TRY_ASSIGN(UniqueFd sub, openDirs(dirfd, {name}, false));
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(sub.get()), ::closedir);
    if (!dir) return Error::fromErrno(fmt::format("opendir '{}'", name));
    int fd = sub.release();
    std::vector<std::string> children;
    while (dirent* d = ::readdir(dir.get())) {
      std::string child = d->d_name;
      if (child != "." && child != "..") children.push_back(std::move(child));
    }
    for (const auto& child : children) TRY(removeTreeAt(fd, child));
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Error::fromErrno(fmt::format("remove '{}'", name));
  return ok();
}

Result<ExtractStats> extractArchive(int archiveFd, int dirfd) {
  static std::atomic<uint64_t> counter{0};
  std::string staging = fmt::format(".nucleo-extract-{}-{}", ::getpid(), counter++);
  if (::mkdirat(dirfd, staging.c_str(), 0700) != 0)
    return Error::fromErrno("create staging directory");
  ExtractStats stats;
  Status result = [&]() -> Status {
    TRY_ASSIGN(UniqueFd stage, openDirs(dirfd, {staging}, false));
    TRY(unpackInto(archiveFd, stage.get(), stats));
    return mergeInto(stage.get(), dirfd, "");
  }();
  Status removed = removeTreeAt(dirfd, staging);
  if (!result) return std::move(result).error();
  if (!removed) return std::move(removed).error();
  return stats;
}

}  // namespace nucleo::agent::fetcher
