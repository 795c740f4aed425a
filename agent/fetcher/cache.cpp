#include "agent/fetcher/cache.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/sha256.hpp"

namespace nucleo::agent::fetcher {
namespace {

bool isEntryName(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

struct Entry {
  std::string name;
  uint64_t size;
  timespec mtime;
};

// Eviction unlinks the lock file of an entry it removes (holding the
// lock): whoever opened that file before must retry on the new one.
Result<UniqueFd> lockEntry(const std::string& lockPath) {
  for (;;) {
    TRY_ASSIGN(UniqueFd lock, UniqueFd::open(lockPath, O_RDWR | O_CREAT, 0600));
    if (::flock(lock.get(), LOCK_EX) != 0) return Error::fromErrno(fmt::format("lock '{}'", lockPath));
    struct stat held, current;
    if (::fstat(lock.get(), &held) == 0 && ::stat(lockPath.c_str(), &current) == 0 &&
        held.st_ino == current.st_ino && held.st_dev == current.st_dev)
      return lock;
  }
}

// "<entry>.tmp-<pid>-<n>" of a process that is gone: a download it never
// finished.
bool isStaleTemp(std::string_view name) {
  auto mark = name.find(".tmp-");
  if (mark != 64 || !isEntryName(name.substr(0, 64))) return false;
  auto pidText = name.substr(mark + 5, name.find('-', mark + 5) - mark - 5);
  pid_t pid = 0;
  for (char c : pidText) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string FetchCache::entryName(const std::string& key) { return Sha256::hex(key); }

Result<UniqueFd> FetchCache::get(const std::string& key, const Producer& produce) {
  TRY(fs::makeDirs(dir_, 0700));
  std::string name = entryName(key);
  std::string path = dir_ + "/" + name;
  // Held while the entry is checked and, if missing, downloaded: a second
  // fetch of the same URI waits here and then finds it.
  TRY_ASSIGN(UniqueFd lock, lockEntry(path + ".lock"));
  if (int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    UniqueFd entry(fd);
    (void)::futimens(entry.get(), nullptr);  // most recently used now
    return entry;
  }
  static std::atomic<uint64_t> counter{0};
  std::string tmp = fmt::format("{}.tmp-{}-{}", path, ::getpid(), counter++);
  {
    TRY_ASSIGN(UniqueFd out, UniqueFd::open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600));
    Status made = produce(out.get());
    if (made && ::fsync(out.get()) != 0) made = Error::fromErrno(fmt::format("fsync '{}'", tmp));
    if (made && ::rename(tmp.c_str(), path.c_str()) != 0)
      made = Error::fromErrno(fmt::format("rename '{}'", tmp));
    if (!made) {
      ::unlink(tmp.c_str());
      return std::move(made).error();
    }
  }
  TRY_ASSIGN(UniqueFd entry, UniqueFd::open(path, O_RDONLY));
  struct stat st;
  if (::fstat(entry.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > maxBytes_) {
    ::unlink(path.c_str());  // too big to keep; the open fd still serves this fetch
    ::unlink((path + ".lock").c_str());  // still held: see lockEntry
    return entry;
  }
  TRY(evict(name));
  return entry;
}

Status FetchCache::evict(const std::string& keep) {
  UniqueFd dirFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return Error::fromErrno(fmt::format("open '{}'", dir_));
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dirFd.get()), ::closedir);
  if (!dir) return Error::fromErrno(fmt::format("opendir '{}'", dir_));
  int fd = dirFd.release();
  std::vector<Entry> entries;
  uint64_t total = 0;
  while (dirent* d = ::readdir(dir.get())) {
    struct stat st;
    if (isStaleTemp(d->d_name)) ::unlinkat(fd, d->d_name, 0);
    if (!isEntryName(d->d_name) || ::fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    entries.push_back({d->d_name, static_cast<uint64_t>(st.st_size), st.st_mtim});
    total += static_cast<uint64_t>(st.st_size);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.mtime.tv_sec, a.mtime.tv_nsec) < std::tie(b.mtime.tv_sec, b.mtime.tv_nsec);
  });
  for (const auto& e : entries) {
    if (total <= maxBytes_) break;
    if (e.name == keep) continue;
    // An entry being downloaded or checked holds its lock: skip it.
    std::string lockName = e.name + ".lock";
    UniqueFd lock(::openat(fd, lockName.c_str(), O_RDWR | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;
    if (::unlinkat(fd, e.name.c_str(), 0) == 0) total -= e.size;
    if (lock) ::unlinkat(fd, lockName.c_str(), 0);  // still held: see lockEntry
  }
  return ok();
}

}  // namespace nucleo::agent::fetcher
