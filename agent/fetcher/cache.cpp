#include "agent/fetcher/cache.hpp"

#include <dirent.h>
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

}  // namespace

std::string FetchCache::entryName(const std::string& key) { return Sha256::hex(key); }

Result<UniqueFd> FetchCache::get(const std::string& key, const Producer& produce) {
  TRY(fs::makeDirs(dir_, 0700));
  std::string name = entryName(key);
  std::string path = dir_ + "/" + name;
  TRY_ASSIGN(UniqueFd lock, UniqueFd::open(path + ".lock", O_RDWR | O_CREAT, 0600));
  // Held while the entry is checked and, if missing, downloaded: a second
  // fetch of the same URI waits here and then finds it.
  if (::flock(lock.get(), LOCK_EX) != 0) return Error::fromErrno(fmt::format("lock '{}'", path));
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
    UniqueFd lock(::openat(fd, (e.name + ".lock").c_str(), O_RDWR | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;
    if (::unlinkat(fd, e.name.c_str(), 0) == 0) total -= e.size;
  }
  return ok();
}

}  // namespace nucleo::agent::fetcher
