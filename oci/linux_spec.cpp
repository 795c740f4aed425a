// The "linux" object of config.json: namespaces, id mappings, devices,
// resources, seccomp and the rootfs knobs.
#include <set>

#include "oci/json_reader.hpp"
#include "oci/spec.hpp"

namespace nucleo::oci {
namespace {

const std::set<std::string> NAMESPACE_TYPES = {"pid",  "network", "mount", "ipc",
                                               "uts",  "user",    "cgroup", "time"};

Result<std::vector<Namespace>> parseNamespaces(const JsonField& f) {
  std::vector<Namespace> out;
  TRY_ASSIGN(auto items, f.elements());
  std::set<std::string> seen;
  for (const auto& item : items) {
    Namespace ns;
    TRY_ASSIGN(ns.type, item.member("type")->string());
    if (!NAMESPACE_TYPES.count(ns.type))
      return Error::make("{}.type: unknown namespace type \"{}\"", item.path(), ns.type);
    if (!seen.insert(ns.type).second)
      return Error::make("{}.type: duplicate namespace \"{}\"", item.path(), ns.type);
    TRY_ASSIGN(ns.path, item.member("path")->string());
    if (!ns.path.empty() && ns.path[0] != '/')
      return Error::make("{}.path: \"{}\" must be absolute", item.path(), ns.path);
    out.push_back(std::move(ns));
  }
  return out;
}

Result<std::vector<IdMapping>> parseMappings(const JsonField& f) {
  std::vector<IdMapping> out;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    TRY_ASSIGN(auto c, item.member("containerID")->uint32());
    TRY_ASSIGN(auto h, item.member("hostID")->uint32());
    TRY_ASSIGN(auto s, item.member("size")->uint32());
    if (!c || !h || !s || *s == 0)
      return item.error("containerID, hostID and a non-zero size are required");
    out.push_back({*c, *h, *s});
  }
  return out;
}

Result<std::vector<Device>> parseDevices(const JsonField& f) {
  std::vector<Device> out;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    Device d;
    TRY_ASSIGN(d.type, item.member("type")->string());
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      return Error::make("{}.type: unknown device type \"{}\"", item.path(), d.type);
    TRY_ASSIGN(d.path, item.member("path")->string());
    if (d.path.empty() || d.path[0] != '/')
      return Error::make("{}.path: \"{}\" must be absolute", item.path(), d.path);
    TRY_ASSIGN(auto major, item.member("major")->int64());
    TRY_ASSIGN(auto minor, item.member("minor")->int64());
    if (d.type != "p" && (!major || !minor))
      return item.error("major and minor are required for device " + d.path);
    d.major = major.value_or(0);
    d.minor = minor.value_or(0);
    TRY_ASSIGN(d.fileMode, item.member("fileMode")->uint32());
    TRY_ASSIGN(d.uid, item.member("uid")->uint32());
    TRY_ASSIGN(d.gid, item.member("gid")->uint32());
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<DeviceRule>> parseDeviceRules(const JsonField& f) {
  std::vector<DeviceRule> out;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    DeviceRule r;
    TRY_ASSIGN(r.allow, item.member("allow")->boolean());
    TRY_ASSIGN(r.type, item.member("type")->string("a"));
    if (r.type != "a" && r.type != "c" && r.type != "b")
      return Error::make("{}.type: unknown device type \"{}\"", item.path(), r.type);
    TRY_ASSIGN(r.major, item.member("major")->int64());
    TRY_ASSIGN(r.minor, item.member("minor")->int64());
    TRY_ASSIGN(r.access, item.member("access")->string("rwm"));
    if (r.access.find_first_not_of("rwm") != std::string::npos)
      return Error::make("{}.access: \"{}\" is not a subset of \"rwm\"", item.path(), r.access);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::map<std::string, TimeOffset>> parseTimeOffsets(const JsonField& f) {
  std::map<std::string, TimeOffset> out;
  TRY_ASSIGN(auto items, f.members());
  for (const auto& [clock, field] : items) {
    if (clock != "monotonic" && clock != "boottime")
      return Error::make("{}: unknown clock \"{}\"", field.path(), clock);
    TRY_ASSIGN(auto secs, field.member("secs")->int64());
    TRY_ASSIGN(auto nanos, field.member("nanosecs")->uint32());
    out[clock] = TimeOffset{secs.value_or(0), nanos.value_or(0)};
  }
  return out;
}

}  // namespace

namespace {

Result<std::vector<ThrottleDevice>> parseThrottle(const JsonField& f) {
  std::vector<ThrottleDevice> out;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    TRY_ASSIGN(auto major, item.member("major")->int64());
    TRY_ASSIGN(auto minor, item.member("minor")->int64());
    TRY_ASSIGN(auto rate, item.member("rate")->uint64());
    if (!major || !minor || *major < 0 || *minor < 0)
      return item.error("major and minor (>= 0) are required");
    out.push_back({*major, *minor, rate.value_or(0)});
  }
  return out;
}

Result<std::optional<uint16_t>> parseWeight(const JsonField& f) {
  TRY_ASSIGN(auto weight, f.uint64());
  if (!weight) return std::optional<uint16_t>();
  if (*weight < 10 || *weight > 1000)
    return f.error(fmt::format("{} is outside 10-1000", *weight));
  return std::optional<uint16_t>(static_cast<uint16_t>(*weight));
}

Result<BlockIO> parseBlockIO(const JsonField& f) {
  BlockIO b;
  TRY_ASSIGN(b.weight, parseWeight(*f.member("weight")));
  TRY_ASSIGN(b.leafWeight, parseWeight(*f.member("leafWeight")));
  TRY_ASSIGN(auto devices, f.member("weightDevice")->elements());
  for (const auto& item : devices) {
    WeightDevice d;
    TRY_ASSIGN(auto major, item.member("major")->int64());
    TRY_ASSIGN(auto minor, item.member("minor")->int64());
    if (!major || !minor || *major < 0 || *minor < 0)
      return item.error("major and minor (>= 0) are required");
    d.major = *major;
    d.minor = *minor;
    TRY_ASSIGN(d.weight, parseWeight(*item.member("weight")));
    TRY_ASSIGN(d.leafWeight, parseWeight(*item.member("leafWeight")));
    b.weightDevice.push_back(d);
  }
  TRY_ASSIGN(b.throttleReadBpsDevice, parseThrottle(*f.member("throttleReadBpsDevice")));
  TRY_ASSIGN(b.throttleWriteBpsDevice, parseThrottle(*f.member("throttleWriteBpsDevice")));
  TRY_ASSIGN(b.throttleReadIOPSDevice, parseThrottle(*f.member("throttleReadIOPSDevice")));
  TRY_ASSIGN(b.throttleWriteIOPSDevice, parseThrottle(*f.member("throttleWriteIOPSDevice")));
  return b;
}

Result<std::vector<HugepageLimit>> parseHugepages(const JsonField& f) {
  std::vector<HugepageLimit> out;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    HugepageLimit h;
    TRY_ASSIGN(h.pageSize, item.member("pageSize")->string());
    TRY_ASSIGN(auto limit, item.member("limit")->uint64());
    // The kernel names sizes "2MB", "1GB", "64KB".
    size_t digits = h.pageSize.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string::npos ||
        (h.pageSize.substr(digits) != "KB" && h.pageSize.substr(digits) != "MB" &&
         h.pageSize.substr(digits) != "GB"))
      return Error::make("{}.pageSize: \"{}\" is not a size like 2MB", item.path(), h.pageSize);
    if (!limit) return item.error("limit is required");
    h.limit = *limit;
    out.push_back(std::move(h));
  }
  return out;
}

// A byte limit: -1 is unlimited, anything else below 0 is an error.
Status checkBytes(const JsonField& parent, const char* key, const std::optional<int64_t>& v) {
  if (v && *v < -1)
    return Error::make("{}.{}: {} is negative (-1 means unlimited)", parent.path(), key, *v);
  return ok();
}

Status parseMemory(const JsonField& f, Resources& r) {
  TRY_ASSIGN(JsonField memory, f.member("memory"));
  TRY_ASSIGN(r.memoryLimit, memory.member("limit")->int64());
  TRY_ASSIGN(r.memoryReservation, memory.member("reservation")->int64());
  TRY_ASSIGN(r.memorySwap, memory.member("swap")->int64());
  TRY_ASSIGN(r.memoryKernel, memory.member("kernel")->int64());
  TRY_ASSIGN(r.memoryKernelTCP, memory.member("kernelTCP")->int64());
  TRY_ASSIGN(r.memorySwappiness, memory.member("swappiness")->uint64());
  if (r.memorySwappiness && *r.memorySwappiness > 100)
    return Error::make("{}.swappiness: {} is outside 0-100", memory.path(), *r.memorySwappiness);
  TRY_ASSIGN(JsonField oomKiller, memory.member("disableOOMKiller"));
  if (oomKiller.present()) {
    TRY_ASSIGN(r.disableOomKiller, oomKiller.boolean());
  }
  TRY(checkBytes(memory, "limit", r.memoryLimit));
  TRY(checkBytes(memory, "reservation", r.memoryReservation));
  TRY(checkBytes(memory, "swap", r.memorySwap));
  if (r.memoryLimit && r.memorySwap && *r.memorySwap != -1 && *r.memoryLimit != -1 &&
      *r.memorySwap != 0 && *r.memorySwap < *r.memoryLimit)
    return Error::make("{}.swap: {} is below memory.limit {} (swap is memory+swap)",
                       memory.path(), *r.memorySwap, *r.memoryLimit);
  return ok();
}

Status parseCpu(const JsonField& f, Resources& r) {
  TRY_ASSIGN(JsonField cpu, f.member("cpu"));
  TRY_ASSIGN(r.cpuShares, cpu.member("shares")->uint64());
  TRY_ASSIGN(r.cpuQuota, cpu.member("quota")->int64());
  TRY_ASSIGN(r.cpuPeriod, cpu.member("period")->uint64());
  TRY_ASSIGN(r.cpuBurst, cpu.member("burst")->uint64());
  TRY_ASSIGN(r.cpuIdle, cpu.member("idle")->int64());
  TRY_ASSIGN(r.cpuRealtimeRuntime, cpu.member("realtimeRuntime")->int64());
  TRY_ASSIGN(r.cpuRealtimePeriod, cpu.member("realtimePeriod")->uint64());
  TRY_ASSIGN(r.cpus, cpu.member("cpus")->string());
  TRY_ASSIGN(r.mems, cpu.member("mems")->string());
  if (r.cpuPeriod && (*r.cpuPeriod < 1000 || *r.cpuPeriod > 1000000))
    return Error::make("{}.period: {} is outside 1000-1000000 microseconds", cpu.path(),
                       *r.cpuPeriod);
  if (r.cpuQuota && *r.cpuQuota > 0 && *r.cpuQuota < 1000)
    return Error::make("{}.quota: {} is below 1000 microseconds", cpu.path(), *r.cpuQuota);
  if (r.cpuIdle && *r.cpuIdle != 0 && *r.cpuIdle != 1)
    return Error::make("{}.idle: {} is not 0 or 1", cpu.path(), *r.cpuIdle);
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"cpus", &r.cpus},
                                   {"mems", &r.mems}})
    if (value->find_first_not_of("0123456789,- ") != std::string::npos)
      return Error::make("{}.{}: \"{}\" is not a list like 0-2,5", cpu.path(), key, *value);
  return ok();
}

Status parseNetwork(const JsonField& f, Resources& r) {
  TRY_ASSIGN(JsonField network, f.member("network"));
  TRY_ASSIGN(r.networkClassID, network.member("classID")->uint32());
  TRY_ASSIGN(auto priorities, network.member("priorities")->elements());
  for (const auto& item : priorities) {
    NetworkPriority p;
    TRY_ASSIGN(p.name, item.member("name")->string());
    TRY_ASSIGN(auto priority, item.member("priority")->uint32());
    if (p.name.empty() || !priority) return item.error("name and priority are required");
    p.priority = *priority;
    r.networkPriorities.push_back(std::move(p));
  }
  return ok();
}

}  // namespace

Result<Resources> parseResources(const JsonField& f) {
  Resources r;
  TRY_ASSIGN(r.devices, parseDeviceRules(*f.member("devices")));
  TRY(parseMemory(f, r));
  TRY(parseCpu(f, r));
  TRY_ASSIGN(JsonField pids, f.member("pids"));
  TRY_ASSIGN(r.pidsLimit, pids.member("limit")->int64());
  TRY_ASSIGN(JsonField blockIO, f.member("blockIO"));
  if (blockIO.present()) {
    TRY_ASSIGN(r.blockIO, parseBlockIO(blockIO));
  }
  TRY_ASSIGN(r.hugepageLimits, parseHugepages(*f.member("hugepageLimits")));
  TRY(parseNetwork(f, r));
  TRY_ASSIGN(r.unified, f.member("unified")->stringMap());
  for (const auto& [key, value] : r.unified)
    if (key.find('/') != std::string::npos || key.find('.') == std::string::npos)
      return Error::make("{}.unified: \"{}\" is not a cgroup interface file name", f.path(), key);
  return r;
}

Result<Resources> parseResourcesJson(std::string_view json) {
  TRY_ASSIGN(boost::json::value doc, parseJson(json, "resources"));
  if (!doc.is_object()) return Error::make("resources: expected a JSON object");
  return parseResources(JsonField(&doc, ""));
}

Result<Seccomp> parseSeccomp(const JsonField& f) {
  Seccomp s;
  TRY_ASSIGN(s.defaultAction, f.member("defaultAction")->string());
  if (s.defaultAction.empty()) return f.error("defaultAction is required");
  TRY_ASSIGN(s.defaultErrnoRet, f.member("defaultErrnoRet")->uint32());
  TRY_ASSIGN(s.architectures, f.member("architectures")->strings());
  TRY_ASSIGN(s.flags, f.member("flags")->strings());
  TRY_ASSIGN(s.listenerPath, f.member("listenerPath")->string());
  TRY_ASSIGN(s.listenerMetadata, f.member("listenerMetadata")->string());
  TRY_ASSIGN(auto syscalls, f.member("syscalls")->elements());
  for (const auto& item : syscalls) {
    SeccompSyscall sc;
    TRY_ASSIGN(sc.names, item.member("names")->strings());
    if (sc.names.empty()) return item.error("names must list at least one syscall");
    TRY_ASSIGN(sc.action, item.member("action")->string());
    if (sc.action.empty()) return item.error("action is required");
    TRY_ASSIGN(sc.errnoRet, item.member("errnoRet")->uint32());
    TRY_ASSIGN(auto args, item.member("args")->elements());
    for (const auto& a : args) {
      SeccompArg arg;
      TRY_ASSIGN(auto index, a.member("index")->uint32());
      TRY_ASSIGN(auto value, a.member("value")->uint64());
      TRY_ASSIGN(auto valueTwo, a.member("valueTwo")->uint64());
      TRY_ASSIGN(arg.op, a.member("op")->string());
      if (!index || arg.op.empty()) return a.error("index and op are required");
      arg.index = *index;
      arg.value = value.value_or(0);
      arg.valueTwo = valueTwo.value_or(0);
      sc.args.push_back(arg);
    }
    s.syscalls.push_back(std::move(sc));
  }
  return s;
}

Result<Linux> parseLinux(const JsonField& f) {
  Linux l;
  TRY_ASSIGN(l.namespaces, parseNamespaces(*f.member("namespaces")));
  TRY_ASSIGN(l.uidMappings, parseMappings(*f.member("uidMappings")));
  TRY_ASSIGN(l.gidMappings, parseMappings(*f.member("gidMappings")));
  TRY_ASSIGN(l.timeOffsets, parseTimeOffsets(*f.member("timeOffsets")));
  TRY_ASSIGN(l.devices, parseDevices(*f.member("devices")));
  TRY_ASSIGN(l.cgroupsPath, f.member("cgroupsPath")->string());
  TRY_ASSIGN(JsonField resources, f.member("resources"));
  if (resources.present()) {
    TRY_ASSIGN(l.resources, parseResources(resources));
  }
  TRY_ASSIGN(l.sysctl, f.member("sysctl")->stringMap());
  TRY_ASSIGN(JsonField seccomp, f.member("seccomp"));
  if (seccomp.present()) {
    TRY_ASSIGN(l.seccomp, parseSeccomp(seccomp));
  }
  TRY_ASSIGN(l.rootfsPropagation, f.member("rootfsPropagation")->string());
  static const std::set<std::string> propagations = {
      "", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"};
  if (!propagations.count(l.rootfsPropagation))
    return Error::make("{}.rootfsPropagation: unknown value \"{}\"", f.path(), l.rootfsPropagation);
  TRY_ASSIGN(l.maskedPaths, f.member("maskedPaths")->strings());
  TRY_ASSIGN(l.readonlyPaths, f.member("readonlyPaths")->strings());
  TRY_ASSIGN(l.mountLabel, f.member("mountLabel")->string());
  TRY_ASSIGN(JsonField personality, f.member("personality"));
  if (personality.present()) return personality.error("personality is not supported");
  TRY_ASSIGN(JsonField intelRdt, f.member("intelRdt"));
  if (intelRdt.present()) return intelRdt.error("Intel RDT is not supported");
  return l;
}

}  // namespace nucleo::oci
