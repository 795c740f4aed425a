// Helpers shared by the v1 and v2 halves of the cgroup layer.

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>

#include "base/strings.hpp"
#include "linux/cgroup_internal.hpp"

namespace nucleo::os::cgroup_internal {

bool memorySet(const CgroupLimits& l) {
  return l.memoryLimit || l.memoryReservation || l.memorySwap || l.disableOomKiller ||
         l.memoryHigh || l.memoryMin || l.memoryOomGroup || l.memorySwappiness;
}
bool cpuSet(const CgroupLimits& l) {
  return l.cpuShares || l.cpuQuota || l.cpuPeriod || l.cpuBurst || l.cpuIdle;
}
bool cpusetSet(const CgroupLimits& l) { return l.cpusetCpus || l.cpusetMems; }
bool ioSet(const CgroupLimits& l) {
  return l.blkioWeight || !l.blkioWeightDevice.empty() || !l.throttleReadBps.empty() ||
         !l.throttleWriteBps.empty() || !l.throttleReadIops.empty() ||
         !l.throttleWriteIops.empty();
}

Result<std::string> bytesValue(const char* field, int64_t value, const char* unlimited) {
  if (value < -1) return Error::make("{} {}: must be -1 or >= 0", field, value);
  return value == -1 ? std::string(unlimited) : std::to_string(value);
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

Status hugetlbCommon(const CgroupDir& dir, const CgroupLimits& l, const char* suffix) {
  for (const auto& [size, limit] : l.hugepageLimits) {
    std::string file = "hugetlb." + size + "." + suffix;
    if (size.empty() || size.find('/') != std::string::npos || !dir.has(file))
      return Error::make("hugepageLimits: page size '{}' is not offered by the host ({})",
                         size, dir.path);
    TRY(dir.write(file, std::to_string(limit)));
  }
  return ok();
}

std::string deviceKey(const BlockIoDevice& d) {
  return std::to_string(d.major) + ":" + std::to_string(d.minor);
}

Status readKeyedFile(const CgroupDir& dir, const std::string& file,
                     std::vector<std::pair<std::string, uint64_t>>& out) {
  TRY_ASSIGN(std::string text, dir.read(file));
  for (const std::string& line : strings::split(text, '\n', true)) {
    std::vector<std::string> fields = strings::split(line, ' ', true);
    if (fields.size() != 2) continue;
    std::optional<uint64_t> value = strings::toUint(fields[1]);
    if (value) out.emplace_back(fields[0], *value);
  }
  return ok();
}

std::optional<uint64_t> keyedValue(const CgroupDir& dir, const std::string& file,
                                   const std::string& key) {
  std::vector<std::pair<std::string, uint64_t>> values;
  if (!readKeyedFile(dir, file, values)) return std::nullopt;
  for (const auto& [name, value] : values)
    if (name == key) return value;
  return std::nullopt;
}

std::optional<uint64_t> numberFile(const CgroupDir& dir, const std::string& file) {
  Result<std::string> text = dir.read(file);
  if (!text) return std::nullopt;
  std::string_view value = strings::trim(*text);
  if (value == "max") return UINT64_MAX;
  return strings::toUint(value);
}

namespace {

// Files holding one line per device (or interface), where a write changes
// only the line of its key; the value is how to say "no setting" for a key.
std::optional<std::string> perKeyReset(const std::string& file) {
  if (file == "io.max") return "rbps=max wbps=max riops=max wiops=max";
  if (file == "io.weight" || file == "io.bfq.weight") return "default";
  if (strings::startsWith(file, "blkio.throttle.") ||
      file == "blkio.weight_device" || file == "blkio.bfq.weight_device")
    return "0";
  if (file == "net_prio.ifpriomap") return "0";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> undoValue(const std::string& file, const std::string& old,
                                     const std::string& value) {
  if (file == "cgroup.procs" || file == "cgroup.subtree_control" ||
      strings::startsWith(file, "devices.") || file == "cgroup.freeze" ||
      file == "cgroup.kill")
    return std::nullopt;
  if (file == "memory.oom_control") {
    for (const std::string& line : strings::split(old, '\n', true))
      if (strings::startsWith(line, "oom_kill_disable "))
        return std::string(strings::trim(line.substr(17)));
    return std::nullopt;
  }
  if (std::optional<std::string> reset = perKeyReset(file)) {
    std::string key = value.substr(0, value.find(' '));
    // A bare number written to io.weight sets the default: "default N" reads back.
    if (key.find(':') == std::string::npos && file.find("weight") != std::string::npos &&
        strings::startsWith(file, "io.")) {
      for (const std::string& line : strings::split(old, '\n', true))
        if (strings::startsWith(line, "default "))
          return std::string(strings::trim(line.substr(8)));
      return std::nullopt;
    }
    for (const std::string& line : strings::split(old, '\n', true))
      if (strings::startsWith(line, key + " ")) return std::string(strings::trim(line));
    return key + " " + *reset;
  }
  return std::string(strings::trim(old));
}

}  // namespace nucleo::os::cgroup_internal
