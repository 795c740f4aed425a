// Cgroup::apply for v1 hierarchies: OCI linux.resources -> v1 files.

#include <cerrno>

#include "base/strings.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os {
namespace {

bool memorySet(const CgroupLimits& l) {
  return l.memoryLimit || l.memoryReservation || l.memorySwap || l.disableOomKiller;
}
bool cpuSet(const CgroupLimits& l) { return l.cpuShares || l.cpuQuota || l.cpuPeriod; }
bool cpusetSet(const CgroupLimits& l) { return l.cpusetCpus || l.cpusetMems; }

Result<std::string> bytesValue(const char* field, int64_t value, const char* unlimited) {
  if (value < -1) return Error::make("{} {}: must be -1 or >= 0", field, value);
  return value == -1 ? std::string(unlimited) : std::to_string(value);
}

Status memoryV1(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.memoryReservation) {
    TRY_ASSIGN(std::string soft,
               bytesValue("memoryReservation", *l.memoryReservation, "-1"));
    TRY(dir.write("memory.soft_limit_in_bytes", soft));
  }
  std::optional<int64_t> memory = l.memoryLimit;
  std::optional<int64_t> swap = l.memorySwap;
  if (swap == 0) swap.reset();
  bool hasMemsw = dir.has("memory.memsw.limit_in_bytes");
  if (memory == -1 && !swap) swap = -1;  // unlimited memory: unlimited swap too
  if (!hasMemsw) swap.reset();           // no swap accounting: nothing to limit
  // The kernel keeps memsw >= limit at every step, so when raising the limit
  // past the current memsw, memsw has to move first.
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
  if (l.disableOomKiller)
    TRY(dir.write("memory.oom_control", *l.disableOomKiller ? "1" : "0"));
  return ok();
}

Status cpuV1(const CgroupDir& dir, const CgroupLimits& l) {
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
  return ok();
}

Status cpusetCommon(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.cpusetCpus) TRY(dir.write("cpuset.cpus", *l.cpusetCpus));
  if (l.cpusetMems) TRY(dir.write("cpuset.mems", *l.cpusetMems));
  return ok();
}

Status pidsCommon(const CgroupDir& dir, const CgroupLimits& l) {
  if (!l.pidsLimit) return ok();
  return dir.write("pids.max", *l.pidsLimit <= 0 ? "max" : std::to_string(*l.pidsLimit));
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
  return ok();
}

Status Cgroup::apply(const CgroupLimits& l) {
  // Refuse up front rather than half-apply limits the host cannot enforce.
  if (!l.unified.empty() && v2() == nullptr)
    return Error::make("cgroup '{}': unified limits need cgroup2, which is not mounted",
                       path_);
  const std::pair<bool, const char*> wanted[] = {{memorySet(l), "memory"},
                                                 {cpuSet(l), "cpu"},
                                                 {cpusetSet(l), "cpuset"},
                                                 {l.pidsLimit.has_value(), "pids"}};
  for (const auto& [set, controller] : wanted) {
    if (set && !layout_.available(controller))
      return Error::make("cgroup '{}': {} limits set but no {} controller", path_,
                         controller, controller);
  }
  if (v2() != nullptr) TRY(applyV2(l));
  return applyV1(l);
}

}  // namespace nucleo::os
