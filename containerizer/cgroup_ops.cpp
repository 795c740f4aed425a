// Runtime::update, Runtime::stats and Runtime::events: the cgroup side of a
// running container.

#include <algorithm>
#include <thread>

#include "containerizer/runtime.hpp"
#include "linux/cgroup_events.hpp"

namespace nucleo::containerizer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Result<os::Cgroup> cgroupOf(const ContainerRecord& record) {
  TRY_ASSIGN(os::CgroupLayout layout, os::CgroupLayout::detect());
  return os::Cgroup::open(layout, record.cgroupPath)
      .context("container \"{}\"", record.id);
}

// How often events notices that the container has stopped.
constexpr auto STATUS_POLL = 200ms;

}  // namespace

Status Runtime::update(const std::string& id, const os::CgroupLimits& limits) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status == ContainerStatus::Stopped)
    return Error::make("cannot update container \"{}\": it is stopped", id);
  TRY_ASSIGN(os::Cgroup cgroup, cgroupOf(record));
  return cgroup.update(limits).context("update container \"{}\"", id);
}

Result<os::CgroupStats> Runtime::stats(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status == ContainerStatus::Stopped)
    return Error::make("container \"{}\" is stopped: no statistics", id);
  TRY_ASSIGN(os::Cgroup cgroup, cgroupOf(record));
  return os::readCgroupStats(cgroup).context("container \"{}\"", id);
}

Status Runtime::events(const std::string& id, std::chrono::milliseconds interval,
                       const std::function<bool(const ContainerEvent&)>& sink) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(os::Cgroup cgroup, cgroupOf(record));
  // Without a memory controller there are no OOM events, only stats.
  Result<os::OomWatcher> watcher = os::OomWatcher::create(cgroup);
  auto nextStats = Clock::now();
  for (;;) {
    TRY_ASSIGN(ContainerStatus status, statusOf(record));
    if (status == ContainerStatus::Stopped) {
      // An OOM kill of the init stops the container: report it before leaving.
      Result<uint64_t> last = watcher ? watcher->wait(0ms) : Result<uint64_t>(0);
      for (uint64_t i = 0; last && i < *last; ++i)
        if (!sink(ContainerEvent{"oom", std::nullopt})) break;
      return ok();
    }
    if (Clock::now() >= nextStats) {
      Result<os::CgroupStats> stats = os::readCgroupStats(cgroup);
      if (!stats) return std::move(stats).error().context("container \"{}\"", id);
      if (!sink(ContainerEvent{"stats", std::move(*stats)})) return ok();
      nextStats += interval;
    }
    auto wait = std::min<std::chrono::milliseconds>(
        STATUS_POLL, std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::max(nextStats - Clock::now(), Clock::duration::zero())));
    if (!watcher) {
      std::this_thread::sleep_for(wait);
      continue;
    }
    Result<uint64_t> ooms = watcher->wait(wait);
    if (!ooms && ooms.error().code == ENOENT) return ok();  // cgroup removed
    if (!ooms) return std::move(ooms).error();
    for (uint64_t i = 0; i < *ooms; ++i)
      if (!sink(ContainerEvent{"oom", std::nullopt})) return ok();
  }
}

}  // namespace nucleo::containerizer
