#pragma once
// A task's network from its ContainerInfo.network_infos, as the runtime's
// `--network` understands it, and Mesos's check of its port mappings against
// the task's `ports` resources. Pure functions, unit-tested.

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

struct TaskNetwork {
  // "" (the host's network), "none", "bridge" or "cni:NAME".
  std::string mode;
  std::vector<std::string> publish;  // "HOST:CONTAINER/tcp"
};

// No ContainerInfo or no network_infos: the host's. A name "none" -> none;
// "bridge" or `bridgeName` -> bridge; "cni:NAME" or any other name -> the CNI
// network list whose "name" is NAME (the runtime errors if there is none).
// More than one network_info, an empty name, or port mappings with host or
// none are errors naming the field.
Result<TaskNetwork> taskNetwork(const std::optional<mesos::v1::ContainerInfo>& container,
                                const std::string& bridgeName);

// A network of its own ("bridge", "cni:NAME"; not the host's, not "none")
// needs network/cni in --isolation, as in Mesos; the error names the flag.
Status networkAllowed(const TaskNetwork& network, bool networkCni);

// Every port_mappings[].host_port must lie in a range of the `ports`
// resource (Mesos rejects the task otherwise); the error names the port.
Status validatePortMappings(const mesos::v1::ContainerInfo& container,
                            const std::vector<mesos::v1::Resource>& resources);

// As Mesos reports them: one network_info with IPv4 ip_addresses (no prefix);
// nothing for no addresses.
void setIpAddresses(mesos::v1::ContainerStatus& status, const std::vector<std::string>& ips);

}  // namespace nucleo::agent
