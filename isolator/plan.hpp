#pragma once
// Policy: turns the OCI config into what the linux/ mechanisms carry out in
// the container init. Everything that can be refused is refused here, before
// any process, mount or cgroup exists, so bad input leaves nothing behind.

#include <sys/resource.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "isolator/cgroups.hpp"
#include "linux/capabilities.hpp"
#include "linux/cgroup.hpp"
#include "linux/rootfs.hpp"
#include "linux/scheduling.hpp"
#include "linux/seccomp.hpp"
#include "oci/spec.hpp"

namespace nucleo::isolator {

struct RlimitPlan {
  int resource = 0;
  struct rlimit limit {};
};

// The process half of a launch: what runs, as whom, with which privileges.
struct ProcessPlan {
  std::vector<std::string> args, env;
  std::string cwd = "/";
  os::Identity identity;
  std::optional<os::CapabilitySets> capabilities;  // nullopt = keep the runtime's
  std::vector<RlimitPlan> rlimits;
  bool noNewPrivileges = false;
  std::optional<int> oomScoreAdj;
  std::optional<os::SchedulerAttr> scheduler;
  std::optional<std::pair<int, int>> ioPriority;  // class, level
  std::vector<int> cpuAffinityInitial, cpuAffinityFinal;
  bool terminal = false;
  std::optional<std::pair<unsigned, unsigned>> consoleSize;
};

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE; unknown names are an Error naming them.
Result<int> rlimitFromName(const std::string& name);

// Capability names to numbers; `field` prefixes errors ("process.capabilities").
Result<os::CapabilitySets> planCapabilities(const oci::Capabilities& caps);

Result<ProcessPlan> planProcess(const oci::Process& process);

// linux.seccomp as the mechanism takes it, validated (unknown actions, arches,
// operators and SCMP_ACT_NOTIFY are errors naming the field).
Result<os::SeccompProfile> planSeccomp(const oci::Seccomp& seccomp);

// planCgroupLimits (linux.resources as cgroup limits) is in isolator/cgroups.hpp.

// The cgroup a container gets: linux.cgroupsPath, or <parent>/<id>. A
// relative cgroupsPath is placed under `parent` too.
Result<std::string> planCgroupPath(const oci::Spec& spec, const std::string& id,
                                   const std::string& parent = "/nucleo");

// The root filesystem: rootfs path made absolute against the bundle, mounts
// with their options checked, devices, masked and read-only paths.
Result<os::RootfsPlan> planRootfs(const oci::Spec& spec, const std::string& bundle,
                                  bool noPivot);

}  // namespace nucleo::isolator
