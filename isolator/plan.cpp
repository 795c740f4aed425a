#include "isolator/plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "linux/mount.hpp"

namespace nucleo::isolator {

Result<int> rlimitFromName(const std::string& name) {
  static const std::map<std::string, int> names = {
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK}};
  auto it = names.find(name);
  if (it == names.end()) return Error::make("unknown rlimit \"{}\"", name);
  return it->second;
}

static Result<std::vector<int>> capabilityNumbers(const std::vector<std::string>& names,
                                                  const char* set) {
  std::vector<int> out;
  for (const auto& name : names) {
    auto cap = os::capabilityFromName(name);
    if (!cap) return std::move(cap).error().context("process.capabilities.{}", set);
    out.push_back(*cap);
  }
  return out;
}

Result<os::CapabilitySets> planCapabilities(const oci::Capabilities& caps) {
  os::CapabilitySets sets;
  TRY_ASSIGN(sets.bounding, capabilityNumbers(caps.bounding, "bounding"));
  TRY_ASSIGN(sets.effective, capabilityNumbers(caps.effective, "effective"));
  TRY_ASSIGN(sets.inheritable, capabilityNumbers(caps.inheritable, "inheritable"));
  TRY_ASSIGN(sets.permitted, capabilityNumbers(caps.permitted, "permitted"));
  TRY_ASSIGN(std::vector<int> ambient, capabilityNumbers(caps.ambient, "ambient"));
  // The kernel raises an ambient capability only when it is both permitted
  // and inheritable; runc's default spec lists ambient caps without
  // inheritable ones, and runc skips those with a warning. So do we.
  auto in = [](const std::vector<int>& set, int cap) {
    return std::find(set.begin(), set.end(), cap) != set.end();
  };
  for (int cap : ambient)
    if (in(sets.inheritable, cap) && in(sets.permitted, cap)) sets.ambient.push_back(cap);
  return sets;
}

static Status planScheduling(const oci::Process& process, ProcessPlan& plan) {
  if (process.scheduler) {
    const auto& s = *process.scheduler;
    os::SchedulerAttr attr;
    auto policy = os::schedulerPolicyFromName(s.policy);
    if (!policy) return std::move(policy).error().context("process.scheduler.policy");
    attr.policy = *policy;
    for (const auto& name : s.flags) {
      auto flag = os::schedulerFlagFromName(name);
      if (!flag) return std::move(flag).error().context("process.scheduler.flags");
      attr.flags |= *flag;
    }
    attr.nice = s.nice;
    attr.priority = static_cast<uint32_t>(s.priority);
    attr.runtime = s.runtime;
    attr.deadline = s.deadline;
    attr.period = s.period;
    plan.scheduler = attr;
  }
  if (process.ioPriority) {
    auto ioClass = os::ioPriorityClassFromName(process.ioPriority->ioClass);
    if (!ioClass) return std::move(ioClass).error().context("process.ioPriority.class");
    plan.ioPriority = std::pair{*ioClass, process.ioPriority->priority};
  }
  if (!process.cpuAffinityInitial.empty()) {
    auto cpus = os::parseCpuList(process.cpuAffinityInitial);
    if (!cpus) return std::move(cpus).error().context("process.execCPUAffinity.initial");
    plan.cpuAffinityInitial = std::move(*cpus);
  }
  if (!process.cpuAffinityFinal.empty()) {
    auto cpus = os::parseCpuList(process.cpuAffinityFinal);
    if (!cpus) return std::move(cpus).error().context("process.execCPUAffinity.final");
    plan.cpuAffinityFinal = std::move(*cpus);
  }
  return ok();
}

Result<ProcessPlan> planProcess(const oci::Process& process) {
  ProcessPlan plan;
  plan.args = process.args;
  plan.env = process.env;
  plan.cwd = process.cwd;
  plan.identity.uid = process.user.uid;
  plan.identity.gid = process.user.gid;
  plan.identity.additionalGids = process.user.additionalGids;
  if (process.user.umask) plan.identity.umask = static_cast<mode_t>(*process.user.umask);
  if (process.capabilities) {
    TRY_ASSIGN(plan.capabilities, planCapabilities(*process.capabilities));
  } else {
    plan.capabilities = os::CapabilitySets{};  // no capabilities object: none
  }
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const auto& r = process.rlimits[i];
    auto resource = rlimitFromName(r.type);
    if (!resource) return std::move(resource).error().context("process.rlimits[{}].type", i);
    plan.rlimits.push_back({*resource, {r.soft, r.hard}});
  }
  plan.noNewPrivileges = process.noNewPrivileges;
  plan.oomScoreAdj = process.oomScoreAdj;
  TRY(planScheduling(process, plan));
  plan.terminal = process.terminal;
  plan.consoleSize = process.consoleSize;
  return plan;
}

Result<os::SeccompProfile> planSeccomp(const oci::Seccomp& s) {
  os::SeccompProfile p;
  p.defaultAction = s.defaultAction;
  p.defaultErrnoRet = s.defaultErrnoRet;
  p.architectures = s.architectures;
  p.flags = s.flags;
  p.listenerPath = s.listenerPath;
  for (const auto& sc : s.syscalls) {
    os::SeccompSyscall out{sc.names, sc.action, sc.errnoRet, {}};
    for (const auto& a : sc.args) out.args.push_back({a.index, a.value, a.valueTwo, a.op});
    p.syscalls.push_back(std::move(out));
  }
  TRY(os::validateSeccomp(p));
  return p;
}

Result<std::string> planCgroupPath(const oci::Spec& spec, const std::string& id,
                                   const std::string& parent) {
  const std::string& configured = spec.linux.cgroupsPath;
  std::string path = configured.empty()       ? parent + "/" + id
                     : configured[0] == '/'   ? configured
                                              : parent + "/" + configured;
  // systemd-style "slice:prefix:name" paths need the systemd driver.
  if (path.find(':') != std::string::npos)
    return Error::make("linux.cgroupsPath: \"{}\" is a systemd cgroup path; the systemd cgroup "
                       "driver is not supported", path);
  auto normalized = os::Cgroup::normalizePath(path);
  if (!normalized) return std::move(normalized).error().context("linux.cgroupsPath");
  return normalized;
}

Result<os::RootfsPlan> planRootfs(const oci::Spec& spec, const std::string& bundle,
                                  bool noPivot) {
  os::RootfsPlan plan;
  plan.rootfs = spec.rootPath[0] == '/' ? spec.rootPath : bundle + "/" + spec.rootPath;
  struct stat st;
  if (::stat(plan.rootfs.c_str(), &st) < 0)
    return Error::fromErrno("root.path: rootfs '" + plan.rootfs + "'");
  if (!S_ISDIR(st.st_mode))
    return Error::make("root.path: rootfs '{}' is not a directory", plan.rootfs);
  plan.readonly = spec.rootReadonly;
  plan.rootfsPropagation = spec.linux.rootfsPropagation;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    auto options = os::parseMountOptions(m.options);
    if (!options)
      return std::move(options).error().context("mounts[{}] ({})", i, m.destination);
    std::string source = m.source;
    // Bind sources relative to the bundle, as runc resolves them.
    if ((options->bind || options->recursiveBind) && !source.empty() && source[0] != '/')
      source = bundle + "/" + source;
    plan.mounts.push_back({m.destination, m.type, source, m.options});
  }
  for (const auto& d : spec.linux.devices)
    plan.devices.push_back({d.path, d.type[0], d.major, d.minor, d.fileMode, d.uid, d.gid});
  plan.userNamespace = spec.linux.hasNamespace("user");
  plan.noPivot = noPivot;
  plan.maskedPaths = spec.linux.maskedPaths;
  plan.readonlyPaths = spec.linux.readonlyPaths;
  plan.mountLabel = spec.linux.mountLabel;
  plan.cgroupNamespace = spec.linux.hasNamespace("cgroup");
  return plan;
}

}  // namespace nucleo::isolator
