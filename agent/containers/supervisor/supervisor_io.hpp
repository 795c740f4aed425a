#pragma once
// Small libc-only helpers of nucleo-supervisor: files written atomically in a
// directory fd, running the runtime binary, and the size-bounded log files.
// No allocation and no C++ runtime, so the supervisor stays a few hundred KiB
// of RSS; every function returns -1 with errno set (or a negative errno).

#include <sys/types.h>

#include <cstddef>

namespace nucleo::agent::supervisor {

// Writes text to <dirfd>/name through "name.tmp" and a rename, so a reader
// sees the old file or the whole new one. 0 or -1 with errno.
int writeAtomic(int dirfd, const char* name, const char* text, size_t length);

// Reads up to size-1 bytes of <dirfd>/name into buf, NUL-terminated. Returns
// the length or -1 with errno.
ssize_t readSmall(int dirfd, const char* name, char* buf, size_t size);

// Field 22 of /proc/<pid>/stat (0 = self); 0 when unreadable.
unsigned long long startTimeOf(pid_t pid);

// fork + execv(argv[0], argv) with fds 0,1,2 from in/out/err (-1: /dev/null)
// and every other fd closed. The child pid or -1.
pid_t spawn(char* const argv[], int in, int out, int err);

// waitpid(pid) retried on EINTR; the wait status, or -1.
int waitFor(pid_t pid);

// One of the container's stdout/stderr files in the sandbox. Opened with
// O_NOFOLLOW relative to the sandbox fd; past maxBytes it is renamed to
// "<name>.1" (replacing the previous one) and a new file started.
struct LogFile {
  int dirfd = -1;
  const char* name = nullptr;
  char rotated[64] = {};
  int fd = -1;
  unsigned long long size = 0;
  unsigned long long maxBytes = 0;

  // Opens (appending) <dirfd>/name. 0 or -1 with errno.
  int open(int sandboxFd, const char* fileName, unsigned long long max);
  // Appends, rotating as needed; write errors are dropped (a full disk must
  // not stop the container).
  void append(const char* data, size_t length);
};

// The "oom_kill N" count of a cgroup's memory.oom_control (v1) or
// memory.events (v2) file; 0 when the file is missing or has no such line.
unsigned long long oomKillCount(const char* path);

}  // namespace nucleo::agent::supervisor
