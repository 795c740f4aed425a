#include "agent/containers/supervisor/supervisor_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nucleo::agent::supervisor {
namespace {

int writeAll(int fd, const char* data, size_t length) {
  while (length > 0) {
    ssize_t n = ::write(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    data += n;
    length -= static_cast<size_t>(n);
  }
  return 0;
}

// The task owns the sandbox and may have put a symlink, a FIFO (which would
// block the open) or a hard link where the log goes: only a regular file
// with one link is written to.
int openLog(int dirfd, const char* name) {
  int fd = ::openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                    0644);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ::close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

}  // namespace

int writeAtomic(int dirfd, const char* name, const char* text, size_t length) {
  char tmp[128];
  std::snprintf(tmp, sizeof tmp, "%s.tmp", name);
  int fd = ::openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int rc = writeAll(fd, text, length);
  int saved = errno;
  ::close(fd);
  if (rc == 0) rc = ::renameat(dirfd, tmp, dirfd, name);
  else errno = saved;
  if (rc != 0) ::unlinkat(dirfd, tmp, 0);
  return rc;
}

ssize_t readSmall(int dirfd, const char* name, char* buf, size_t size) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t total = 0;
  while (total + 1 < size) {
    ssize_t n = ::read(fd, buf + total, size - 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[total] = '\0';
  return static_cast<ssize_t>(total);
}

unsigned long long startTimeOf(pid_t pid) {
  char path[64];
  if (pid == 0) std::snprintf(path, sizeof path, "/proc/self/stat");
  else std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char buf[1024];
  if (readSmall(AT_FDCWD, path, buf, sizeof buf) <= 0) return 0;
  // The command name may hold spaces and parentheses: count from the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  p += 2;  // field 3, the state
  for (int field = 3; field < 22 && *p; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

pid_t spawn(char* const argv[], int in, int out, int err) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_RDWR);
  int fds[3] = {in, out, err};
  for (int i = 0; i < 3; ++i) ::dup2(fds[i] >= 0 ? fds[i] : null, i);
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGHUP, SIG_DFL);
  ::execv(argv[0], argv);
  ::_exit(127);
}

int waitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

int LogFile::open(int sandboxFd, const char* fileName, unsigned long long max) {
  dirfd = sandboxFd;
  name = fileName;
  std::snprintf(rotated, sizeof rotated, "%s.1", fileName);
  maxBytes = max > 0 ? max : 1;
  fd = openLog(dirfd, name);
  if (fd < 0) return -1;
  struct stat st;
  size = ::fstat(fd, &st) == 0 ? static_cast<unsigned long long>(st.st_size) : 0;
  return 0;
}

void LogFile::append(const char* data, size_t length) {
  while (length > 0) {
    if (size >= maxBytes) {
      // The rename keeps what a reader has open valid; a failed reopen just
      // drops output until the next chunk retries.
      ::renameat(dirfd, name, dirfd, rotated);
      if (fd >= 0) ::close(fd);
      fd = openLog(dirfd, name);
      size = 0;
    }
    size_t chunk = length;
    if (chunk > maxBytes - size) chunk = static_cast<size_t>(maxBytes - size);
    if (fd >= 0) writeAll(fd, data, chunk);
    size += chunk;
    data += chunk;
    length -= chunk;
  }
}

unsigned long long oomKillCount(const char* path) {
  char buf[2048];
  if (readSmall(AT_FDCWD, path, buf, sizeof buf) <= 0) return 0;
  for (char* line = buf; line && *line;) {
    if (std::strncmp(line, "oom_kill ", 9) == 0) return std::strtoull(line + 9, nullptr, 10);
    line = std::strchr(line, '\n');
    if (line) ++line;
  }
  return 0;
}

}  // namespace nucleo::agent::supervisor
