// Cgroup::apply for the cgroup2 hierarchy: OCI linux.resources -> v2 files.

#include <algorithm>

#include "base/strings.hpp"
#include "linux/cgroup_internal.hpp"

namespace nucleo::os {
namespace {

using namespace cgroup_internal;

constexpr int64_t V2_DEFAULT_CPU_PERIOD = 100000;

// OCI memory.swap is memory+swap; v2 limits swap alone. Mirrors runc's
// ConvertMemorySwapToCgroupV2Value, with "unset" as nullopt.
Result<std::optional<std::string>> swapForV2(const CgroupLimits& l) {
  int64_t memory = l.memoryLimit.value_or(0);
  if (!l.memorySwap || *l.memorySwap == 0) {
    // Unlimited memory with no swap given means unlimited both, as on v1.
    if (memory == -1) return std::optional<std::string>("max");
    return std::optional<std::string>();
  }
  int64_t swap = *l.memorySwap;
  if (swap == -1) return std::optional<std::string>("max");
  if (memory <= 0)
    return Error::make("memorySwap {}: a swap limit needs a memoryLimit", swap);
  if (swap < memory)
    return Error::make("memorySwap {}: below memoryLimit {}", swap, memory);
  return std::optional<std::string>(std::to_string(swap - memory));
}

Status memoryV2(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.memoryReservation) {
    TRY_ASSIGN(std::string low,
               bytesValue("memoryReservation", *l.memoryReservation, "max"));
    TRY(dir.write("memory.low", low));
  }
  if (l.memoryLimit) {
    TRY_ASSIGN(std::string max, bytesValue("memoryLimit", *l.memoryLimit, "max"));
    TRY(dir.write("memory.max", max));
  }
  TRY_ASSIGN(std::optional<std::string> swap, swapForV2(l));
  // No memory.swap.max without swap accounting (CONFIG_MEMCG_SWAP).
  if (swap && dir.has("memory.swap.max")) TRY(dir.write("memory.swap.max", *swap));
  if (l.memoryHigh) {
    TRY_ASSIGN(std::string high, bytesValue("memory.high", *l.memoryHigh, "max"));
    TRY(dir.write("memory.high", high));
  }
  if (l.memoryMin) {
    TRY_ASSIGN(std::string min, bytesValue("memory.min", *l.memoryMin, "max"));
    TRY(dir.write("memory.min", min));
  }
  if (l.memoryOomGroup) TRY(dir.write("memory.oom.group", *l.memoryOomGroup ? "1" : "0"));
  return ok();
}

// runc's mapping of the v1 shares range [2, 262144] onto weight [1, 10000].
uint64_t sharesToWeight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

Status cpuMaxV2(const CgroupDir& dir, const CgroupLimits& l);

Status cpuV2(const CgroupDir& dir, const CgroupLimits& l) {
  if (l.cpuShares)
    TRY(dir.write("cpu.weight", std::to_string(sharesToWeight(*l.cpuShares))));
  if (l.cpuIdle) TRY(dir.write("cpu.idle", std::to_string(*l.cpuIdle)));
  // cpu.max.burst must not exceed the quota, so it goes after cpu.max.
  if (l.cpuQuota || l.cpuPeriod) TRY(cpuMaxV2(dir, l));
  if (l.cpuBurst) {
    if (!dir.has("cpu.max.burst"))
      return Error::make("cpu.burst: the kernel has no cpu.max.burst ({})", dir.path);
    TRY(dir.write("cpu.max.burst", std::to_string(*l.cpuBurst)));
  }
  return ok();
}

Status cpuMaxV2(const CgroupDir& dir, const CgroupLimits& l) {
  // cpu.max holds both values; keep whichever one was not given.
  std::string quota = "max";
  std::string period = std::to_string(V2_DEFAULT_CPU_PERIOD);
  TRY_ASSIGN(std::string current, dir.read("cpu.max"));
  std::vector<std::string> fields = strings::split(strings::trim(current), ' ', true);
  if (fields.size() == 2) {
    quota = fields[0];
    period = fields[1];
  }
  if (l.cpuQuota) quota = *l.cpuQuota < 0 ? "max" : std::to_string(*l.cpuQuota);
  if (l.cpuPeriod) period = std::to_string(*l.cpuPeriod);
  return dir.write("cpu.max", quota + " " + period);
}

// runc's mapping of blkio weight [10, 1000] onto io.weight [1, 10000].
uint64_t blkioToIoWeight(uint64_t weight) {
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + (weight - 10) * 9999 / 990;
}

Status ioV2(const CgroupDir& dir, const CgroupLimits& l) {
  // BFQ takes the blkio range as it is; io.weight (the io.cost controller)
  // needs the conversion.
  bool bfq = dir.has("io.bfq.weight");
  if (l.blkioWeight) {
    if (!bfq && !dir.has("io.weight"))
      return Error::make("blockIO.weight: no io.bfq.weight or io.weight in '{}'", dir.path);
    TRY(dir.write(bfq ? "io.bfq.weight" : "io.weight",
                  std::to_string(bfq ? *l.blkioWeight : blkioToIoWeight(*l.blkioWeight))));
  }
  for (const BlockIoDevice& d : l.blkioWeightDevice) {
    uint64_t weight = bfq ? d.value : blkioToIoWeight(d.value);
    TRY(dir.write(bfq ? "io.bfq.weight" : "io.weight",
                  deviceKey(d) + " " + std::to_string(weight)));
  }
  const std::pair<const std::vector<BlockIoDevice>*, const char*> throttles[] = {
      {&l.throttleReadBps, "rbps"},
      {&l.throttleWriteBps, "wbps"},
      {&l.throttleReadIops, "riops"},
      {&l.throttleWriteIops, "wiops"}};
  for (const auto& [list, key] : throttles) {
    for (const BlockIoDevice& d : *list) {
      // 0 means "no limit" in blkio.throttle.*; io.max spells it "max".
      std::string rate = d.value == 0 ? "max" : std::to_string(d.value);
      TRY(dir.write("io.max", deviceKey(d) + " " + key + "=" + rate));
    }
  }
  return ok();
}

// linux.resources.unified keys are plain interface file names.
Status unifiedV2(const CgroupDir& dir, const CgroupLimits& l) {
  for (const auto& [file, value] : l.unified) {
    if (file.empty() || file.find('/') != std::string::npos || file[0] == '.')
      return Error::make("unified key '{}': not a cgroup file name", file);
    if (!dir.has(file))
      return Error::make("unified key '{}': no such file in '{}'", file, dir.path);
    TRY(dir.write(file, value));
  }
  return ok();
}

}  // namespace

Status Cgroup::enableV2Controllers(const std::set<std::string>& controllers) {
  if (controllers.empty()) return ok();
  const Hierarchy* unified = v2();
  TRY_ASSIGN(UniqueFd dir, UniqueFd::open(unified->mountPoint, O_RDONLY | O_DIRECTORY));
  std::string dirPath = unified->mountPoint;
  std::vector<std::string> parts = strings::split(path_, '/', true);
  // Every ancestor of the leaf must delegate the controller to its children.
  for (size_t i = 0; i < parts.size(); ++i) {
    CgroupDir ancestor{dir.get(), dirPath};
    TRY_ASSIGN(std::string enabled, ancestor.read("cgroup.subtree_control"));
    std::set<std::string> have;
    for (const std::string& name : strings::split(strings::trim(enabled), ' ', true))
      have.insert(name[0] == '+' ? name.substr(1) : name);
    std::vector<std::string> add;
    for (const std::string& name : controllers)
      if (!have.count(name)) add.push_back("+" + name);
    if (!add.empty())
      TRY(ancestor.write("cgroup.subtree_control", strings::join(add, " ")));
    TRY_ASSIGN(
        dir, UniqueFd::openat(dir.get(), parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    dirPath += "/" + parts[i];
  }
  return ok();
}

Status Cgroup::applyV2(const CgroupLimits& l) {
  auto inV2 = [this](const char* controller) {
    return layout_.v2Controllers.count(controller) > 0;
  };
  std::set<std::string> needed;
  if (memorySet(l) && inV2("memory")) needed.insert("memory");
  if (cpuSet(l) && inV2("cpu")) needed.insert("cpu");
  if (cpusetSet(l) && inV2("cpuset")) needed.insert("cpuset");
  if (l.pidsLimit && inV2("pids")) needed.insert("pids");
  if (ioSet(l) && inV2("io")) needed.insert("io");
  if (!l.hugepageLimits.empty() && inV2("hugetlb")) needed.insert("hugetlb");
  for (const auto& entry : l.unified) {
    std::string prefix = entry.first.substr(0, entry.first.find('.'));
    if (inV2(prefix.c_str())) needed.insert(prefix);
  }
  TRY(enableV2Controllers(needed));
  CgroupDir dir = dirAt(*v2());
  if (needed.count("memory")) TRY(memoryV2(dir, l));
  if (needed.count("cpu")) TRY(cpuV2(dir, l));
  if (needed.count("cpuset")) TRY(cpusetCommon(dir, l));
  if (needed.count("pids")) TRY(pidsCommon(dir, l));
  if (needed.count("io")) TRY(ioV2(dir, l));
  if (needed.count("hugetlb")) TRY(hugetlbCommon(dir, l, "max"));
  return unifiedV2(dir, l);
}

}  // namespace nucleo::os
