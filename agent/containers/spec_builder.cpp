#include "agent/containers/spec_builder.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>

#include "images/bundle.hpp"
#include "oci/json_pretty.hpp"
#include "oci/state.hpp"

namespace nucleo::agent {
namespace {

namespace json = boost::json;

// Index = the kernel's capability number.
constexpr std::array<const char*, 41> CAPABILITIES = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};

constexpr const char* DENIED_SYSCALLS[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module",
    "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount",
    "mount_setattr", "move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
    "open_tree", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
    "ptrace", "query_module", "quotactl", "reboot", "request_key", "setns", "settimeofday",
    "stime", "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
    "userfaultfd", "ustat", "vm86", "vm86old"};

json::array strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

json::object capabilitiesJson(const ContainerLaunch& launch, const oci::User& user) {
  std::vector<std::string> bounding = defaultCapabilities();
  std::optional<std::vector<std::string>> effective;
  if (launch.container && launch.container->has_linux_info()) {
    const auto& li = launch.container->linux_info();
    // Validated by the caller through capabilityNames().
    if (li.has_bounding_capabilities()) bounding = *capabilityNames(li.bounding_capabilities());
    if (li.has_effective_capabilities()) effective = *capabilityNames(li.effective_capabilities());
    else if (li.has_capability_info()) effective = *capabilityNames(li.capability_info());
  }
  // Mesos: a task not run as root gets no capabilities unless asked.
  std::vector<std::string> granted = effective ? *effective : user.uid == 0 ? bounding
                                                                           : std::vector<std::string>{};
  std::erase_if(granted, [&](const std::string& c) {
    return std::find(bounding.begin(), bounding.end(), c) == bounding.end();
  });
  json::object caps{{"bounding", strings(bounding)}, {"effective", strings(granted)},
                    {"permitted", strings(granted)}};
  // Ambient, so a non-root user keeps what it was given across execve.
  if (user.uid != 0) {
    caps["ambient"] = strings(granted);
    caps["inheritable"] = strings(granted);
  }
  return caps;
}

json::array namespacesJson(const ContainerLaunch& launch, const SpecContext& ctx) {
  bool sharePid = launch.container && launch.container->linux_info().share_pid_namespace();
  json::array ns{json::object{{"type", "mount"}}};
  if (!sharePid && ctx.isolation.namespacesPid) ns.push_back(json::object{{"type", "pid"}});
  if (ctx.pod) {
    ns.push_back(json::object{{"type", "ipc"}, {"path", ctx.pod->ipc}});
    ns.push_back(json::object{{"type", "uts"}, {"path", ctx.pod->uts}});
    if (!ctx.pod->net.empty()) ns.push_back(json::object{{"type", "network"}, {"path", ctx.pod->net}});
  } else {
    if (ctx.isolation.namespacesIpc) ns.push_back(json::object{{"type", "ipc"}});
    ns.push_back(json::object{{"type", "uts"}});
    if (!ctx.networkMode.empty()) ns.push_back(json::object{{"type", "network"}});
  }
  return ns;
}

json::object bindJson(const std::string& source, const std::string& destination) {
  return {{"destination", destination}, {"type", "bind"}, {"source", source},
          {"options", {"rbind", "rw", "nosuid", "nodev"}}};
}

Status applyResources(json::object& linux, const std::vector<mesos::v1::Resource>& resources,
                      const Isolation& isolation) {
  TRY_ASSIGN(TaskLimits limits, taskLimits(resources));
  auto& r = linux["resources"].as_object();
  // Without cgroups/devices the device cgroup is left alone (empty rules).
  if (!isolation.cgroupsDevices) r.erase("devices");
  if (!isolation.cgroupsCpu) limits.cpuShares.reset();
  if (!isolation.cgroupsMem) limits.memoryBytes.reset();
  if (limits.cpuShares) r["cpu"] = {{"shares", *limits.cpuShares}, {"quota", *limits.cpuQuota}, {"period", 100000}};
  if (limits.memoryBytes) r["memory"] = {{"limit", *limits.memoryBytes}};
  return {};
}

std::string hostnameOf(const ContainerLaunch& launch) {
  if (launch.container && !launch.container->hostname().empty()) return launch.container->hostname();
  return launch.containerId.substr(0, 63);
}

}  // namespace

Result<std::vector<std::string>> commandArgs(const mesos::v1::CommandInfo& command,
                                             const images::ImageConfig* image) {
  if (command.shell()) {
    if (command.value().empty()) return Error::make("command.value: empty shell command");
    return std::vector<std::string>{"/bin/sh", "-c", command.value()};
  }
  std::vector<std::string> arguments(command.arguments().begin(), command.arguments().end());
  if (command.has_value() && !command.value().empty()) {
    std::vector<std::string> args{command.value()};
    if (arguments.size() > 1) args.insert(args.end(), arguments.begin() + 1, arguments.end());
    return args;
  }
  if (!image) return Error::make("command.value: no program to run (and no image to take one from)");
  return images::processArgs(*image, arguments);
}

Result<std::vector<std::string>> commandEnv(const ContainerLaunch& launch, const images::ImageConfig* image,
                                            const std::string& sandboxInside) {
  std::vector<std::string> extra;
  for (const auto& [k, v] : launch.environment) extra.push_back(k + "=" + v);
  for (const auto& var : launch.command.environment().variables()) {
    if (var.name().empty() || var.name().find('=') != std::string::npos)
      return Error::make("command.environment: bad variable name '{}'", var.name());
    if (var.type() == mesos::v1::Environment::Variable::SECRET)
      return Error::make("command.environment: variable '{}' is a SECRET, which this agent does not support",
                         var.name());
    extra.push_back(var.name() + "=" + var.value());
  }
  extra.push_back("MESOS_SANDBOX=" + sandboxInside);
  images::ImageConfig none;
  return images::processEnv(image ? *image : none, extra);
}

Result<TaskLimits> taskLimits(const std::vector<mesos::v1::Resource>& resources) {
  double cpus = 0, memMb = 0;
  for (const auto& r : resources) {
    if (r.name() != "cpus" && r.name() != "mem") continue;
    double v = r.scalar().value();
    if (!r.has_scalar() || !std::isfinite(v) || v < 0)
      return Error::make("resource '{}': expected a non-negative scalar", r.name());
    (r.name() == "cpus" ? cpus : memMb) += v;
  }
  TaskLimits out;
  if (cpus > 0) {
    out.cpuShares = std::max<uint64_t>(2, static_cast<uint64_t>(std::llround(cpus * 1024)));
    out.cpuQuota = std::max<int64_t>(1000, static_cast<int64_t>(std::llround(cpus * 100000)));
  }
  if (memMb > 0) out.memoryBytes = std::max<int64_t>(32LL << 20, static_cast<int64_t>(memMb * (1 << 20)));
  return out;
}

Result<std::vector<std::string>> capabilityNames(const mesos::v1::CapabilityInfo& info) {
  std::vector<std::string> out;
  for (int c : info.capabilities()) {
    int n = c - 1000;
    if (n < 0 || n >= static_cast<int>(CAPABILITIES.size()))
      return Error::make("linux_info: unknown capability {}", c);
    std::string name = std::string("CAP_") + CAPABILITIES[static_cast<size_t>(n)];
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> defaultCapabilities() {
  return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
          "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
          "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
}

std::string defaultSeccompJson() {
  json::array names;
  for (const char* n : DENIED_SYSCALLS) names.emplace_back(n);
  json::object profile{{"defaultAction", "SCMP_ACT_ALLOW"},
                       {"syscalls", json::array{{{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  return json::serialize(profile);
}

Result<std::string> buildConfigJson(const ContainerLaunch& launch, const SpecContext& ctx) {
  bool hostFs = ctx.image == nullptr;
  if (!hostFs && !ctx.isolation.filesystemLinux)
    return Error::make("container.mesos.image: needs filesystem/linux in the agent's --isolation");
  std::string sandboxInside = hostFs ? launch.sandbox : ctx.sandboxMountPoint;
  TRY_ASSIGN(auto args, commandArgs(launch.command, ctx.image));
  TRY_ASSIGN(auto env, commandEnv(launch, ctx.image, sandboxInside));
  if (launch.container && launch.container->has_linux_info()) {
    const auto& li = launch.container->linux_info();
    for (const auto* c : {&li.bounding_capabilities(), &li.effective_capabilities(), &li.capability_info()})
      TRY(capabilityNames(*c));
  }
  json::value spec = json::parse(oci::defaultSpecJson(false, 0, 0));
  auto& root = spec.as_object();
  auto& process = root["process"].as_object();
  process["terminal"] = false;
  process["args"] = strings(args);
  process["env"] = strings(env);
  process["cwd"] = launch.workingDir.value_or(sandboxInside);
  json::object user{{"uid", ctx.user.uid}, {"gid", ctx.user.gid}};
  if (!ctx.user.additionalGids.empty()) user["additionalGids"] = json::value_from(ctx.user.additionalGids);
  process["user"] = user;
  process["capabilities"] = capabilitiesJson(launch, ctx.user);
  // As in Mesos, tasks inherit the agent's rlimits (rlimit_info is not in
  // our ContainerInfo); the default spec's NOFILE 1024 is too low for many.
  process.erase("rlimits");
  root["root"] = {{"path", ctx.rootfs}, {"readonly", hostFs}};
  if (ctx.pod) root.erase("hostname");  // the pod's UTS namespace has it
  else root["hostname"] = hostnameOf(launch);
  auto& mounts = root["mounts"].as_array();
  if (hostFs) {
    // The host's /tmp, writable, as Mesos's filesystem/posix tasks see it
    // (programs and files under /tmp stay reachable); not recursive, so the
    // mounts below it (other containers' roots when the agent's work dir is
    // there) are not copied in.
    mounts.push_back(json::object{{"destination", "/tmp"}, {"type", "bind"}, {"source", "/tmp"},
                      {"options", {"bind", "rw", "nosuid", "nodev"}}});
  }
  if (ctx.pod && !ctx.pod->shm.empty()) {
    for (auto& m : mounts)
      if (m.as_object()["destination"] == "/dev/shm") m = bindJson(ctx.pod->shm, "/dev/shm");
  }
  mounts.push_back(bindJson(launch.sandbox, sandboxInside));
  auto& linux = root["linux"].as_object();
  linux["namespaces"] = namespacesJson(launch, ctx);
  linux["cgroupsPath"] = ctx.cgroupsPath;
  TRY(applyResources(linux, launch.resources, ctx.isolation));
  if (!ctx.pod && !ctx.networkMode.empty()) {
    json::object annotations{{"org.nucleo.network", ctx.networkMode}};
    std::string ports;
    for (const auto& p : ctx.publish) ports += (ports.empty() ? "" : ",") + p;
    if (!ports.empty()) annotations["org.nucleo.network.ports"] = ports;
    root["annotations"] = std::move(annotations);
  }
  bool unconfined = launch.container && launch.container->linux_info().seccomp().unconfined();
  if (!unconfined) linux["seccomp"] = json::parse(defaultSeccompJson());
  std::string text = oci::prettyJson(spec) + "\n";
  // The runtime parses it again; failing here names the field before any
  // process starts.
  TRY(oci::parseSpec(text));
  return text;
}

}  // namespace nucleo::agent
