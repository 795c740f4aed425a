#include "agent/containers/task_network.hpp"

#include <fmt/format.h>

namespace nucleo::agent {
namespace {

Result<std::string> protocolOf(const mesos::v1::NetworkInfo::PortMapping& pm) {
  std::string p = pm.has_protocol() ? pm.protocol() : "tcp";
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p != "tcp" && p != "udp")
    return Error::make("network_infos.port_mappings: protocol '{}' of host_port {}: expected tcp or udp",
                       pm.protocol(), pm.host_port());
  return p;
}

bool inPorts(uint32_t port, const std::vector<mesos::v1::Resource>& resources) {
  for (const auto& r : resources) {
    if (r.name() != "ports" || r.type() != mesos::v1::Value::RANGES) continue;
    for (const auto& range : r.ranges().range())
      if (port >= range.begin() && port <= range.end()) return true;
  }
  return false;
}

}  // namespace

Result<TaskNetwork> taskNetwork(const std::optional<mesos::v1::ContainerInfo>& container,
                                const std::string& bridgeName) {
  TaskNetwork out;
  if (!container || container->network_infos_size() == 0) return out;
  if (container->network_infos_size() > 1)
    return Error::make("container.network_infos: {} networks given; one is supported",
                       container->network_infos_size());
  const auto& info = container->network_infos(0);
  const std::string& name = info.name();
  if (name.empty()) return Error::make("container.network_infos[0].name: empty");
  if (name == "none") out.mode = "none";
  else if (name == "bridge" || name == bridgeName) out.mode = "bridge";
  else if (name.starts_with("cni:")) out.mode = name;
  else out.mode = "cni:" + name;
  for (const auto& pm : info.port_mappings()) {
    TRY_ASSIGN(std::string proto, protocolOf(pm));
    if (pm.host_port() == 0 || pm.host_port() > 65535 || pm.container_port() == 0 || pm.container_port() > 65535)
      return Error::make("network_infos.port_mappings: host_port {} -> container_port {}: out of 1..65535",
                         pm.host_port(), pm.container_port());
    out.publish.push_back(fmt::format("{}:{}/{}", pm.host_port(), pm.container_port(), proto));
  }
  if (!out.publish.empty() && out.mode == "none")
    return Error::make("network_infos.port_mappings: network '{}' has no ports to publish", name);
  return out;
}

Status validatePortMappings(const mesos::v1::ContainerInfo& container,
                            const std::vector<mesos::v1::Resource>& resources) {
  for (const auto& info : container.network_infos())
    for (const auto& pm : info.port_mappings())
      if (!inPorts(pm.host_port(), resources))
        return Error::make("network_infos.port_mappings: host_port {} is not in the task's ports resources",
                           pm.host_port());
  return {};
}

void setIpAddresses(mesos::v1::ContainerStatus& status, const std::vector<std::string>& ips) {
  if (ips.empty()) return;
  auto* net = status.add_network_infos();
  for (const auto& ip : ips) {
    auto* a = net->add_ip_addresses();
    a->set_protocol(mesos::v1::NetworkInfo::IPv4);
    a->set_ip_address(ip);
  }
}

Status networkAllowed(const TaskNetwork& network, bool networkCni) {
  if (networkCni || network.mode.empty() || network.mode == "none") return {};
  return Error::make("container.network_infos: network '{}' needs network/cni in the agent's --isolation",
                     network.mode);
}

}  // namespace nucleo::agent
