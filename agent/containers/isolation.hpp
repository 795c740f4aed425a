#pragma once
// The agent's --isolation flag, as Mesos's: a comma list of isolators that
// decides what each container's spec asks of the kernel and what the agent
// reports as isolated.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "nucleo/agent.pb.h"

namespace nucleo::agent {

struct Isolation {
  bool cgroupsCpu = false;      // cpu shares and CFS quota from `cpus`
  bool cgroupsMem = false;      // memory limit from `mem`
  bool cgroupsPids = false;     // process accounting (no limit, as Mesos)
  bool cgroupsDevices = false;  // the device cgroup's allow list
  bool namespacesPid = false;
  bool namespacesIpc = false;
  bool filesystemLinux = false;  // container images; else the host's fs only
  bool networkCni = false;       // ContainerInfo.network_infos
  bool posixCpu = false, posixMem = false;  // usage only

  // Every isolator this agent runs, as the operator named them (cgroups/all
  // expanded), in a fixed order; filesystem/posix when no filesystem isolator
  // is given, as Mesos does. Ignored names (docker/runtime) are not listed.
  std::vector<std::string> active() const;
  // The resources a cgroup enforces: "cpus" with cgroups/cpu, "mem" with
  // cgroups/mem.
  std::vector<std::string> isolatedResources() const;

  // Parses "cgroups/cpu,namespaces/pid,...". Accepted: cgroups/{cpu,mem,pids,
  // devices,all}, namespaces/{pid,ipc}, filesystem/{linux,posix},
  // network/cni, posix/{cpu,mem} (usage only), docker/runtime (ignored).
  // Error naming the first unknown entry.
  static Result<Isolation> parse(std::string_view flag);
  // Everything: the agent's default.
  static Isolation all();
};

// Fills the registration's isolators and isolated_resources from the
// --isolation flag (left empty if it does not parse: parseFlags refuses it).
void reportIsolation(const std::string& flag, nucleo::agent::Call::Register* out);

}  // namespace nucleo::agent
