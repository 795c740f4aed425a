#include "base/unique_fd.hpp"

#include <sys/socket.h>
#include <unistd.h>

namespace nucleo {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> UniqueFd::open(const std::string& path, int flags, mode_t mode) {
  return openat(AT_FDCWD, path, flags, mode);
}

Result<UniqueFd> UniqueFd::openat(int dirfd, const std::string& path, int flags,
                                  mode_t mode) {
  int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Error::fromErrno("open '" + path + "'");
  return UniqueFd(fd);
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return Error::fromErrno("pipe2");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<std::pair<UniqueFd, UniqueFd>> makeSocketPair(int type) {
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0)
    return Error::fromErrno("socketpair");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace nucleo
