// readCgroupStats: v1 and v2 statistics files -> CgroupStats.

#include "linux/cgroup_stats.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/strings.hpp"
#include "linux/cgroup_internal.hpp"

namespace nucleo::os {
namespace {

using namespace cgroup_internal;

bool isV2(const Cgroup& cg, const char* controller) {
  return cg.layout().versionOf(controller) == CgroupVersion::V2;
}

std::map<std::string, uint64_t> keyedMap(const CgroupDir& dir, const std::string& file) {
  std::vector<std::pair<std::string, uint64_t>> values;
  (void)readKeyedFile(dir, file, values);
  return {values.begin(), values.end()};
}

uint64_t valueOr0(const std::map<std::string, uint64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

MemoryStats memoryStats(const CgroupDir& dir, bool v2) {
  MemoryStats m;
  m.raw = keyedMap(dir, "memory.stat");
  if (v2) {
    m.cache = valueOr0(m.raw, "file");
    m.usage.usage = numberFile(dir, "memory.current").value_or(0);
    m.usage.max = numberFile(dir, "memory.peak").value_or(0);
    m.usage.limit = numberFile(dir, "memory.max").value_or(UINT64_MAX);
    m.swap.usage = numberFile(dir, "memory.swap.current").value_or(0);
    m.swap.max = numberFile(dir, "memory.swap.peak").value_or(0);
    m.swap.limit = numberFile(dir, "memory.swap.max").value_or(UINT64_MAX);
    std::map<std::string, uint64_t> events = keyedMap(dir, "memory.events");
    m.usage.failcnt = valueOr0(events, "max");
    m.oomEvents = valueOr0(events, "oom");
    m.oomKillEvents = valueOr0(events, "oom_kill");
    return m;
  }
  m.cache = m.raw.count("total_cache") ? m.raw["total_cache"] : valueOr0(m.raw, "cache");
  m.usage.usage = numberFile(dir, "memory.usage_in_bytes").value_or(0);
  m.usage.max = numberFile(dir, "memory.max_usage_in_bytes").value_or(0);
  m.usage.limit = numberFile(dir, "memory.limit_in_bytes").value_or(UINT64_MAX);
  m.usage.failcnt = numberFile(dir, "memory.failcnt").value_or(0);
  m.swap.usage = numberFile(dir, "memory.memsw.usage_in_bytes").value_or(0);
  m.swap.max = numberFile(dir, "memory.memsw.max_usage_in_bytes").value_or(0);
  m.swap.limit = numberFile(dir, "memory.memsw.limit_in_bytes").value_or(UINT64_MAX);
  m.swap.failcnt = numberFile(dir, "memory.memsw.failcnt").value_or(0);
  // v1 counts only kills (memory.oom_control "oom_kill", Linux 4.13).
  m.oomKillEvents = keyedValue(dir, "memory.oom_control", "oom_kill").value_or(0);
  m.oomEvents = m.oomKillEvents;
  return m;
}

CpuStats cpuStatsV2(const CgroupDir& dir) {
  CpuStats c;
  std::map<std::string, uint64_t> stat = keyedMap(dir, "cpu.stat");
  c.totalNs = valueOr0(stat, "usage_usec") * 1000;
  c.userNs = valueOr0(stat, "user_usec") * 1000;
  c.kernelNs = valueOr0(stat, "system_usec") * 1000;
  c.periods = valueOr0(stat, "nr_periods");
  c.throttledPeriods = valueOr0(stat, "nr_throttled");
  c.throttledTimeNs = valueOr0(stat, "throttled_usec") * 1000;
  return c;
}

// v1 splits cpu accounting (cpuacct) from bandwidth control (cpu).
CpuStats cpuStatsV1(const Cgroup& cg) {
  CpuStats c;
  if (std::optional<CgroupDir> acct = cg.controllerDir("cpuacct")) {
    c.totalNs = numberFile(*acct, "cpuacct.usage").value_or(0);
    if (Result<std::string> per = acct->read("cpuacct.usage_percpu"))
      for (const std::string& n : strings::split(strings::trim(*per), ' ', true))
        c.perCpuNs.push_back(strings::toUint(n).value_or(0));
    // cpuacct.stat counts USER_HZ ticks.
    uint64_t nsPerTick = 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    std::map<std::string, uint64_t> stat = keyedMap(*acct, "cpuacct.stat");
    c.userNs = valueOr0(stat, "user") * nsPerTick;
    c.kernelNs = valueOr0(stat, "system") * nsPerTick;
  }
  if (std::optional<CgroupDir> cpu = cg.controllerDir("cpu")) {
    std::map<std::string, uint64_t> stat = keyedMap(*cpu, "cpu.stat");
    c.periods = valueOr0(stat, "nr_periods");
    c.throttledPeriods = valueOr0(stat, "nr_throttled");
    c.throttledTimeNs = valueOr0(stat, "throttled_time");
  }
  return c;
}

std::optional<std::pair<uint32_t, uint32_t>> parseDevice(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::optional<uint64_t> major = strings::toUint(text.substr(0, colon));
  std::optional<uint64_t> minor = strings::toUint(text.substr(colon + 1));
  if (!major || !minor) return std::nullopt;
  return std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(*major),
                                       static_cast<uint32_t>(*minor));
}

BlkioStats ioStatsV2(const CgroupDir& dir) {
  BlkioStats b;
  Result<std::string> text = dir.read("io.stat");
  if (!text) return b;
  const std::pair<const char*, const char*> bytes[] = {
      {"rbytes", "Read"}, {"wbytes", "Write"}, {"dbytes", "Discard"}};
  const std::pair<const char*, const char*> ops[] = {
      {"rios", "Read"}, {"wios", "Write"}, {"dios", "Discard"}};
  for (const std::string& line : strings::split(*text, '\n', true)) {
    std::vector<std::string> fields = strings::split(line, ' ', true);
    auto dev = fields.empty() ? std::nullopt : parseDevice(fields[0]);
    if (!dev) continue;
    std::map<std::string, uint64_t> kv;
    for (size_t i = 1; i < fields.size(); ++i) {
      size_t eq = fields[i].find('=');
      if (eq == std::string::npos) continue;
      kv[fields[i].substr(0, eq)] = strings::toUint(fields[i].substr(eq + 1)).value_or(0);
    }
    for (const auto& [key, op] : bytes)
      if (kv.count(key)) b.serviceBytes.push_back({dev->first, dev->second, op, kv[key]});
    for (const auto& [key, op] : ops)
      if (kv.count(key)) b.serviced.push_back({dev->first, dev->second, op, kv[key]});
  }
  return b;
}

// "8:0 Read 4096" lines; the closing "Total N" line has no device.
std::vector<BlkioEntry> blkioEntriesV1(const CgroupDir& dir, const std::string& file) {
  std::vector<BlkioEntry> out;
  Result<std::string> text = dir.read(file);
  if (!text) return out;
  for (const std::string& line : strings::split(*text, '\n', true)) {
    std::vector<std::string> fields = strings::split(line, ' ', true);
    if (fields.size() != 3) continue;
    auto dev = parseDevice(fields[0]);
    if (!dev) continue;
    out.push_back({dev->first, dev->second, fields[1], strings::toUint(fields[2]).value_or(0)});
  }
  return out;
}

BlkioStats blkioStatsV1(const CgroupDir& dir) {
  // CFQ's counters are gone on blk-mq kernels; the throttle ones remain.
  BlkioStats b;
  b.serviceBytes = blkioEntriesV1(dir, "blkio.io_service_bytes_recursive");
  if (b.serviceBytes.empty())
    b.serviceBytes = blkioEntriesV1(dir, "blkio.throttle.io_service_bytes_recursive");
  b.serviced = blkioEntriesV1(dir, "blkio.io_serviced_recursive");
  if (b.serviced.empty())
    b.serviced = blkioEntriesV1(dir, "blkio.throttle.io_serviced_recursive");
  return b;
}

std::vector<std::string> fileNames(const CgroupDir& dir) {
  std::vector<std::string> names;
  int fd = ::openat(dir.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return names;
  }
  while (struct dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  return names;
}

std::map<std::string, HugetlbStats> hugetlbStats(const CgroupDir& dir, bool v2) {
  std::map<std::string, HugetlbStats> out;
  const std::string usageSuffix = v2 ? ".current" : ".usage_in_bytes";
  for (const std::string& name : fileNames(dir)) {
    if (!strings::startsWith(name, "hugetlb.") || name.size() <= usageSuffix.size() + 8 ||
        name.compare(name.size() - usageSuffix.size(), usageSuffix.size(), usageSuffix))
      continue;
    std::string size = name.substr(8, name.size() - 8 - usageSuffix.size());
    if (size.find('.') != std::string::npos) continue;  // rsvd.* counters
    std::string base = "hugetlb." + size;
    HugetlbStats h;
    h.usage = numberFile(dir, name).value_or(0);
    if (v2) {
      h.max = numberFile(dir, base + ".max").value_or(0);
      h.failcnt = keyedValue(dir, base + ".events", "max").value_or(0);
    } else {
      h.max = numberFile(dir, base + ".max_usage_in_bytes").value_or(0);
      h.failcnt = numberFile(dir, base + ".failcnt").value_or(0);
    }
    out[size] = h;
  }
  return out;
}

std::optional<Psi> psiFile(const CgroupDir& dir, const char* file) {
  // Absent without CONFIG_PSI; reading fails (EOPNOTSUPP) when booted psi=0.
  Result<std::string> text = dir.read(file);
  if (!text) return std::nullopt;
  Result<Psi> psi = parsePsi(*text);
  if (!psi) return std::nullopt;
  return *psi;
}

}  // namespace

Result<Psi> parsePsi(std::string_view text) {
  Psi psi;
  for (const std::string& line : strings::split(text, '\n', true)) {
    std::vector<std::string> fields = strings::split(line, ' ', true);
    if (fields.empty() || (fields[0] != "some" && fields[0] != "full"))
      return Error::make("PSI line '{}': expected 'some' or 'full'", line);
    PsiLine& out = fields[0] == "some" ? psi.some : psi.full;
    for (size_t i = 1; i < fields.size(); ++i) {
      size_t eq = fields[i].find('=');
      if (eq == std::string::npos) return Error::make("PSI line '{}': bad field", line);
      std::string key = fields[i].substr(0, eq), value = fields[i].substr(eq + 1);
      char* end = nullptr;
      double number = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0')
        return Error::make("PSI line '{}': bad value of {}", line, key);
      if (key == "avg10") out.avg10 = number;
      if (key == "avg60") out.avg60 = number;
      if (key == "avg300") out.avg300 = number;
      if (key == "total") out.total = strings::toUint(value).value_or(0);
    }
  }
  return psi;
}

Result<CgroupStats> readCgroupStats(const Cgroup& cg) {
  CgroupStats s;
  std::optional<CgroupDir> unified = cg.unifiedDir();
  // The cgroup must still exist: a removed directory reads as ENOENT/ENODEV.
  if (std::optional<CgroupDir> any = unified ? unified : cg.controllerDir("pids")) {
    if (::faccessat(any->fd, "cgroup.procs", F_OK, 0) < 0)
      return Error::fromErrno(fmt::format("stats of '{}'", any->path));
  }
  if (std::optional<CgroupDir> dir = cg.controllerDir("memory"))
    s.memory = memoryStats(*dir, isV2(cg, "memory"));
  if (isV2(cg, "cpu") && unified)
    s.cpu = cpuStatsV2(*unified);  // cpu.stat usage exists even without the controller
  else if (cg.layout().available("cpuacct") || cg.layout().available("cpu"))
    s.cpu = cpuStatsV1(cg);
  if (std::optional<CgroupDir> dir = cg.controllerDir("pids")) {
    PidsStats p;
    p.current = numberFile(*dir, "pids.current").value_or(0);
    std::optional<uint64_t> max = numberFile(*dir, "pids.max");
    p.limit = !max || *max == UINT64_MAX ? 0 : *max;
    s.pids = p;
  }
  if (std::optional<CgroupDir> dir = cg.controllerDir("io"); dir && isV2(cg, "io"))
    s.blkio = ioStatsV2(*dir);
  else if (std::optional<CgroupDir> blkio = cg.controllerDir("blkio"))
    s.blkio = blkioStatsV1(*blkio);
  if (std::optional<CgroupDir> dir = cg.controllerDir("hugetlb"))
    s.hugetlb = hugetlbStats(*dir, isV2(cg, "hugetlb"));
  if (unified) {
    s.cpuPressure = psiFile(*unified, "cpu.pressure");
    s.memoryPressure = psiFile(*unified, "memory.pressure");
    s.ioPressure = psiFile(*unified, "io.pressure");
  }
  return s;
}

}  // namespace nucleo::os
