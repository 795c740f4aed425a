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

Result<Resources> parseResources(const JsonField& f) {
  Resources r;
  TRY_ASSIGN(r.devices, parseDeviceRules(*f.member("devices")));
  TRY_ASSIGN(JsonField memory, f.member("memory"));
  TRY_ASSIGN(r.memoryLimit, memory.member("limit")->int64());
  TRY_ASSIGN(r.memoryReservation, memory.member("reservation")->int64());
  TRY_ASSIGN(r.memorySwap, memory.member("swap")->int64());
  TRY_ASSIGN(r.memorySwappiness, memory.member("swappiness")->uint64());
  TRY_ASSIGN(JsonField oomKiller, memory.member("disableOOMKiller"));
  if (oomKiller.present()) {
    TRY_ASSIGN(r.disableOomKiller, oomKiller.boolean());
  }
  if (r.memoryLimit && r.memorySwap && *r.memorySwap != -1 && *r.memoryLimit != -1 &&
      *r.memorySwap < *r.memoryLimit)
    return Error::make("{}.memory.swap: {} is below memory.limit {} (swap is memory+swap)",
                       f.path(), *r.memorySwap, *r.memoryLimit);
  TRY_ASSIGN(JsonField cpu, f.member("cpu"));
  TRY_ASSIGN(r.cpuShares, cpu.member("shares")->uint64());
  TRY_ASSIGN(r.cpuQuota, cpu.member("quota")->int64());
  TRY_ASSIGN(r.cpuPeriod, cpu.member("period")->uint64());
  TRY_ASSIGN(r.cpuBurst, cpu.member("burst")->uint64());
  TRY_ASSIGN(r.cpus, cpu.member("cpus")->string());
  TRY_ASSIGN(r.mems, cpu.member("mems")->string());
  TRY_ASSIGN(JsonField pids, f.member("pids"));
  TRY_ASSIGN(r.pidsLimit, pids.member("limit")->int64());
  TRY_ASSIGN(r.unified, f.member("unified")->stringMap());
  for (const auto& [key, value] : r.unified)
    if (key.find('/') != std::string::npos || key.find('.') == std::string::npos)
      return Error::make("{}.unified: \"{}\" is not a cgroup interface file name", f.path(), key);
  return r;
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
