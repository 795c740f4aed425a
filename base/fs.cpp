#include "base/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "base/unique_fd.hpp"

namespace nucleo::fs {

Result<std::string> readFileAt(int dirfd, const std::string& path) {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::openat(dirfd, path, O_RDONLY));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read '" + path + "'");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> readFile(const std::string& path) {
  return readFileAt(AT_FDCWD, path);
}

static Status writeAll(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("write '" + path + "'");
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Status writeExistingAt(int dirfd, const std::string& path, std::string_view content) {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::openat(dirfd, path, O_WRONLY | O_TRUNC));
  return writeAll(fd.get(), content, path);
}

Status writeExisting(const std::string& path, std::string_view content) {
  return writeExistingAt(AT_FDCWD, path, content);
}

Status writeFileAtomic(const std::string& path, std::string_view content, mode_t mode,
                       Durability durability) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    TRY_ASSIGN(UniqueFd fd,
               UniqueFd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    Status written = writeAll(fd.get(), content, tmp);
    if (written && durability == Durability::Synced && ::fsync(fd.get()) < 0)
      written = Error::fromErrno("fsync '" + tmp + "'");
    if (!written) {
      ::unlink(tmp.c_str());
      return written;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    Error err = Error::fromErrno("rename '" + tmp + "' to '" + path + "'");
    ::unlink(tmp.c_str());
    return err;
  }
  return ok();
}

Status makeDirs(const std::string& path, mode_t mode) {
  // mkdir each missing component with `mode` (less the umask), as mkdir -p.
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    std::string prefix = path.substr(0, end);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), mode) < 0 && errno != EEXIST)
      return Error::fromErrno("mkdir '" + prefix + "'");
    if (end == std::string::npos) break;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return Error::fromErrno("mkdir '" + path + "'");
  if (!S_ISDIR(st.st_mode)) return Error{ENOTDIR, "mkdir '" + path + "': not a directory"};
  return ok();
}

Status removeAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Error{ec.value(), "remove '" + path + "': " + ec.message()};
  return ok();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace nucleo::fs
