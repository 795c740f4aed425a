// Cgroup::apply for v1 hierarchies: OCI linux.resources -> v1 files.

#include <cerrno>

#include "base/strings.hpp"
#include "linux/cgroup_internal.hpp"

namespace nucleo::os {
namespace {

using namespace cgroup_internal;

// Writes the swap and memory limits in an order the kernel accepts: it keeps
// memsw >= limit at every step, so raising the limit past the current memsw
// needs memsw first.
Status memoryLimitsV1(const CgroupDir& dir, const CgroupLimits& l) {
  std::optional<int64_t> memory = l.memoryLimit;
  std::optional<int64_t> swap = l.memorySwap;
  if (swap == 0) swap.reset();
  bool hasMemsw = dir.has("memory.memsw.limit_in_bytes");
  if (memory == -1 && !swap) swap = -1;  // unlimited memory: unlimited swap too
  if (!hasMemsw) swap.reset();           // no swap accounting: nothing to limit
  bool swapFirst = false;
  if (memory && swap) {
    TRY_ASSIGN(std::string current, dir.read("memory.limit_in_bytes"));
    std::optional<uint64_t> limit = strings::toUint(strings::trim(current));
    if (!limit)
      return Error::make("{}/memory.limit_in_bytes: bad value '{}'", dir.path, current);
    swapFirst = *swap == -1 || *limit < static_cast<uint64_t>(*swap);
  }
  std::string memsw;
  if (swap) {
    TRY_ASSIGN(memsw, bytesValue("memorySwap", *swap, "-1"));
  }
  if (swap && swapFirst) TRY(dir.write("memory.memsw.limit_in_bytes", memsw));
  if (memory) {
    TRY_ASSIGN(std::string limit, bytesValue("memoryLimit", *memory, "-1"));
    TRY(dir.write("memory.limit_in_bytes", limit));
  }
  if (swap && !swapFirst) TRY(dir.write("memory.memsw.limit_in_bytes", memsw));
  return ok();
}

Status memoryV1(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.memoryHigh || l.memoryMin || l.memoryOomGroup)
    return Error::make("memory high/min/oom.group: need the cgroup2 memory controller, "
                       "but memory is on cgroup v1 ({})", dir.path);
  if (l.memoryReservation) {
    TRY_ASSIGN(std::string soft,
               bytesValue("memoryReservation", *l.memoryReservation, "-1"));
    TRY(dir.write("memory.soft_limit_in_bytes", soft));
  }
  TRY(memoryLimitsV1(dir, l));
  if (l.memorySwappiness) {
    if (*l.memorySwappiness > 100)
      return Error::make("memory.swappiness {}: must be 0-100", *l.memorySwappiness);
    TRY(dir.write("memory.swappiness", std::to_string(*l.memorySwappiness)));
  }
  if (l.disableOomKiller)
    TRY(dir.write("memory.oom_control", *l.disableOomKiller ? "1" : "0"));
  return ok();
}

Status cpuV1(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.cpuIdle) return Error::make("cpu.idle: needs the cgroup2 cpu controller");
  if (l.cpuShares) TRY(dir.write("cpu.shares", std::to_string(*l.cpuShares)));
  // A period smaller than the current one can be refused (EINVAL) while the
  // old quota/new period ratio exceeds the parent's; retry after the quota.
  bool retryPeriod = false;
  if (l.cpuPeriod) {
    Status period = dir.write("cpu.cfs_period_us", std::to_string(*l.cpuPeriod));
    if (!period && (period.error().code != EINVAL || !l.cpuQuota)) return period;
    retryPeriod = !period;
  }
  if (l.cpuQuota)
    TRY(dir.write("cpu.cfs_quota_us",
                  std::to_string(*l.cpuQuota < 0 ? -1 : *l.cpuQuota)));
  if (retryPeriod) TRY(dir.write("cpu.cfs_period_us", std::to_string(*l.cpuPeriod)));
  if (l.cpuBurst) {
    if (!dir.has("cpu.cfs_burst_us"))
      return Error::make("cpu.burst: the kernel has no cpu.cfs_burst_us ({})", dir.path);
    TRY(dir.write("cpu.cfs_burst_us", std::to_string(*l.cpuBurst)));
  }
  return ok();
}

Status blkioV1(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.blkioWeight) {
    // CFQ's blkio.weight is gone since 5.0; BFQ's takes the same range.
    const char* file = dir.has("blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
    if (!dir.has(file))
      return Error::make("blockIO.weight: no blkio.weight or blkio.bfq.weight in '{}' "
                         "(no CFQ/BFQ I/O scheduler)", dir.path);
    TRY(dir.write(file, std::to_string(*l.blkioWeight)));
  }
  for (const BlockIoDevice& d : l.blkioWeightDevice) {
    const char* file =
        dir.has("blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
    TRY(dir.write(file, deviceKey(d) + " " + std::to_string(d.value)));
  }
  const std::pair<const std::vector<BlockIoDevice>*, const char*> throttles[] = {
      {&l.throttleReadBps, "blkio.throttle.read_bps_device"},
      {&l.throttleWriteBps, "blkio.throttle.write_bps_device"},
      {&l.throttleReadIops, "blkio.throttle.read_iops_device"},
      {&l.throttleWriteIops, "blkio.throttle.write_iops_device"}};
  for (const auto& [list, file] : throttles)
    for (const BlockIoDevice& d : *list)
      TRY(dir.write(file, deviceKey(d) + " " + std::to_string(d.value)));
  return ok();
}

Status netV1(const Cgroup& cg, const CgroupLimits& l) {
  if (l.netClassId) {
    std::optional<CgroupDir> dir = cg.controllerDir("net_cls");
    TRY(dir->write("net_cls.classid", std::to_string(*l.netClassId)));
  }
  if (!l.netPriorities.empty()) {
    std::optional<CgroupDir> dir = cg.controllerDir("net_prio");
    for (const auto& [name, priority] : l.netPriorities)
      TRY(dir->write("net_prio.ifpriomap", name + " " + std::to_string(priority)));
  }
  return ok();
}

}  // namespace

Status Cgroup::applyV1(const CgroupLimits& l) {
  auto v1Dir = [this](const char* controller) -> std::optional<CgroupDir> {
    const Hierarchy* h = find(controller);
    if (h == nullptr || h->version != CgroupVersion::V1) return std::nullopt;
    return dirAt(*h);
  };
  if (auto dir = v1Dir("memory"); dir && memorySet(l)) TRY(memoryV1(*dir, l));
  if (auto dir = v1Dir("cpu"); dir && cpuSet(l)) TRY(cpuV1(*dir, l));
  if (auto dir = v1Dir("cpuset"); dir && cpusetSet(l)) TRY(cpusetCommon(*dir, l));
  if (auto dir = v1Dir("pids"); dir && l.pidsLimit) TRY(pidsCommon(*dir, l));
  if (auto dir = v1Dir("blkio"); dir && ioSet(l)) TRY(blkioV1(*dir, l));
  if (auto dir = v1Dir("hugetlb"); dir && !l.hugepageLimits.empty())
    TRY(hugetlbCommon(*dir, l, "limit_in_bytes"));
  return netV1(*this, l);
}

}  // namespace nucleo::os
