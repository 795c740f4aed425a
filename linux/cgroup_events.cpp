// OomWatcher: inotify on memory.events (v2), eventfd + cgroup.event_control (v1).

#include "linux/cgroup_events.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "linux/cgroup_internal.hpp"

namespace nucleo::os {

Result<OomWatcher> OomWatcher::create(const Cgroup& cgroup) {
  std::optional<CgroupDir> dir = cgroup.controllerDir("memory");
  if (!dir) return Error::make("cgroup '{}': no memory controller to watch", cgroup.path());
  OomWatcher w;
  w.path_ = dir->path;
  w.v2_ = cgroup.layout().versionOf("memory") == CgroupVersion::V2;
  TRY_ASSIGN(w.dir_, UniqueFd::openat(dir->fd, ".", O_RDONLY | O_DIRECTORY));
  if (w.v2_) {
    int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0) return Error::fromErrno("inotify_init1");
    w.notify_ = UniqueFd(fd);
    std::string file = w.path_ + "/memory.events";
    if (::inotify_add_watch(fd, file.c_str(), IN_MODIFY) < 0)
      return Error::fromErrno("inotify_add_watch '" + file + "'");
    w.lastKills_ =
        cgroup_internal::keyedValue(*dir, "memory.events", "oom_kill").value_or(0);
    return w;
  }
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Error::fromErrno("eventfd");
  w.notify_ = UniqueFd(efd);
  TRY_ASSIGN(w.control_, UniqueFd::openat(dir->fd, "memory.oom_control", O_RDONLY));
  // "<event_fd> <fd of memory.oom_control>" registers the notification.
  std::string registration = std::to_string(efd) + " " + std::to_string(w.control_.get());
  TRY(dir->write("cgroup.event_control", registration));
  return w;
}

Result<uint64_t> OomWatcher::drainV2() {
  alignas(struct inotify_event) char buf[4096];
  bool gone = false;
  for (;;) {
    ssize_t n = ::read(notify_.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* event = reinterpret_cast<struct inotify_event*>(buf + off);
      // IN_IGNORED follows the removal of the watched file with its cgroup.
      if (event->mask & IN_IGNORED) gone = true;
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
    }
  }
  Result<std::string> text = CgroupDir{dir_.get(), path_}.read("memory.events");
  if (!text && (gone || text.error().code == ENOENT || text.error().code == ENODEV))
    return Error{ENOENT, "memory.events of '" + path_ + "': the cgroup is gone"};
  if (!text) return std::move(text).error();
  uint64_t kills = cgroup_internal::keyedValue(CgroupDir{dir_.get(), path_},
                                               "memory.events", "oom_kill")
                       .value_or(lastKills_);
  uint64_t fresh = kills > lastKills_ ? kills - lastKills_ : 0;
  lastKills_ = kills;
  if (gone && fresh == 0)
    return Error{ENOENT, "memory.events of '" + path_ + "': the cgroup is gone"};
  return fresh;
}

Result<uint64_t> OomWatcher::wait(std::chrono::milliseconds timeout) {
  struct pollfd p = {notify_.get(), POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno != EINTR) return Error::fromErrno("poll OOM notifications");
  if (v2_) {
    if (n <= 0) return 0;
    return drainV2();
  }
  // v1 also signals the eventfd when the cgroup is removed.
  bool gone = ::faccessat(dir_.get(), "memory.oom_control", F_OK, 0) < 0;
  if (n <= 0) {
    if (gone) return Error{ENOENT, "'" + path_ + "': the cgroup is gone"};
    return 0;
  }
  uint64_t count = 0;
  if (::read(notify_.get(), &count, sizeof count) != sizeof count)
    return Error::fromErrno("read OOM eventfd of '" + path_ + "'");
  if (gone) return Error{ENOENT, "'" + path_ + "': the cgroup is gone"};
  return count;
}

}  // namespace nucleo::os
