#pragma once
// UniqueFd: a move-only owner of a file descriptor, closed on destruction.

#include <fcntl.h>

#include <string>
#include <utility>

#include "base/result.hpp"

namespace nucleo {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

  // open(2)/openat(2) with O_CLOEXEC added; errors name the path.
  static Result<UniqueFd> open(const std::string& path, int flags, mode_t mode = 0);
  static Result<UniqueFd> openat(int dirfd, const std::string& path, int flags,
                                 mode_t mode = 0);

 private:
  int fd_ = -1;
};

// Pipe and socketpair with O_CLOEXEC on both ends.
Result<std::pair<UniqueFd, UniqueFd>> makePipe();
Result<std::pair<UniqueFd, UniqueFd>> makeSocketPair(int type);

}  // namespace nucleo
