#include "isolator/cgroups.hpp"

namespace nucleo::isolator {
namespace {

std::vector<os::BlockIoDevice> rates(const std::vector<oci::ThrottleDevice>& in) {
  std::vector<os::BlockIoDevice> out;
  for (const auto& d : in)
    out.push_back({static_cast<uint32_t>(d.major), static_cast<uint32_t>(d.minor), d.rate});
  return out;
}

void planBlockIO(const oci::BlockIO& b, os::CgroupLimits& l) {
  l.blkioWeight = b.weight;
  for (const auto& d : b.weightDevice)
    if (d.weight)
      l.blkioWeightDevice.push_back(
          {static_cast<uint32_t>(d.major), static_cast<uint32_t>(d.minor), *d.weight});
  l.throttleReadBps = rates(b.throttleReadBpsDevice);
  l.throttleWriteBps = rates(b.throttleWriteBpsDevice);
  l.throttleReadIops = rates(b.throttleReadIOPSDevice);
  l.throttleWriteIops = rates(b.throttleWriteIOPSDevice);
}

std::vector<os::CgroupDeviceRule> planDevices(const oci::Resources& r,
                                              const std::vector<oci::Device>& specDevices) {
  std::vector<os::CgroupDeviceRule> rules;
  for (const auto& d : r.devices)
    rules.push_back({d.allow, d.type.empty() ? 'a' : d.type[0], d.major.value_or(-1),
                     d.minor.value_or(-1), d.access});
  std::vector<os::CgroupDeviceRule> defaults = defaultDeviceRules();
  rules.insert(rules.end(), defaults.begin(), defaults.end());
  for (const auto& d : specDevices)
    if (d.type != "p")
      rules.push_back({true, d.type == "b" ? 'b' : 'c', d.major, d.minor, "rwm"});
  return rules;
}

}  // namespace

std::vector<os::CgroupDeviceRule> defaultDeviceRules() {
  auto c = [](int64_t major, int64_t minor) {
    return os::CgroupDeviceRule{true, 'c', major, minor, "rwm"};
  };
  return {os::CgroupDeviceRule{true, 'c', -1, -1, "m"},
          os::CgroupDeviceRule{true, 'b', -1, -1, "m"},
          c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9), c(5, 0), c(5, 2), c(136, -1),
          c(10, 200)};
}

os::CgroupLimits planCgroupLimits(const oci::Resources& r,
                                  const std::vector<oci::Device>& specDevices) {
  os::CgroupLimits l;
  l.memoryLimit = r.memoryLimit;
  l.memoryReservation = r.memoryReservation;
  l.memorySwap = r.memorySwap;
  l.memorySwappiness = r.memorySwappiness;
  l.disableOomKiller = r.disableOomKiller;
  l.cpuShares = r.cpuShares;
  l.cpuQuota = r.cpuQuota;
  l.cpuPeriod = r.cpuPeriod;
  l.cpuBurst = r.cpuBurst;
  l.cpuIdle = r.cpuIdle;
  if (!r.cpus.empty()) l.cpusetCpus = r.cpus;
  if (!r.mems.empty()) l.cpusetMems = r.mems;
  l.pidsLimit = r.pidsLimit;
  if (r.blockIO) planBlockIO(*r.blockIO, l);
  for (const auto& h : r.hugepageLimits) l.hugepageLimits[h.pageSize] = h.limit;
  l.netClassId = r.networkClassID;
  for (const auto& p : r.networkPriorities) l.netPriorities[p.name] = p.priority;
  if (!r.devices.empty()) l.devices = planDevices(r, specDevices);
  l.unified = r.unified;
  return l;
}

}  // namespace nucleo::isolator
