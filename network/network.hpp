#pragma once
// Container networking, the policy over linux/net_link and nftables: what a
// runtime or agent calls once a container's network namespace exists
// (/proc/<init pid>/ns/net) and before its process starts, and again when the
// container is deleted.
//
//   auto req = network::parseMode("bridge");  req->ports = {...};
//   auto att = network::attach(id, "/proc/123/ns/net", *req);   // IPs in att->ips
//   ... store att->toJson() with the container ...
//   network::detach(*network::Attachment::fromJson(saved));
//
// Modes: none (loopback only), host (nothing to do: the container shares the
// host's namespace), bridge (veth on a Linux bridge, IPAM, masquerade, DNAT
// for published ports), cni:NAME (the plugins of a CNI network list).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "linux/net_link.hpp"
#include "network/ipam.hpp"

namespace nucleo::network {

enum class Mode { None, Host, Bridge, Cni };
const char* modeName(Mode mode);

struct PortMapping {
  uint16_t hostPort = 0;
  uint16_t containerPort = 0;
  std::string protocol = "tcp";
  bool operator==(const PortMapping&) const = default;
};

// "HOST:CONTAINER[/tcp|udp]"; an error names the text.
Result<PortMapping> parsePortMapping(const std::string& text);

struct BridgeConfig {
  std::string name = "nucleo0";
  // Unset: the bridge's existing subnet, else the first default candidate
  // (10.88.0.0/16, 10.89.0.0/16, ... 172.30.0.0/16) that no host route covers.
  std::optional<os::net::Ipv4Net> subnet;
  uint32_t mtu = 0;  // 0: 1500 for a new bridge, else the bridge's
  std::string table = "nucleo";  // nftables table (family inet)
  // Leases (<stateDir>/<bridge>/), published ports (<stateDir>/ports/) and
  // the lock that serialises set-up and tear-down on this host.
  std::string stateDir = "/var/lib/nucleo/network";
};

struct CniConfig {
  std::string configDir = "/etc/cni/net.d";
  std::vector<std::string> pluginDirs = {"/usr/lib/cni", "/opt/cni/bin"};
};

struct Request {
  Mode mode = Mode::None;
  std::string cniNetwork;               // Mode::Cni
  std::vector<PortMapping> ports;       // bridge and cni (portmap plugin)
  std::optional<os::net::Ipv4> address; // bridge: this address instead of the next free one
  std::string ifName = "eth0";
  BridgeConfig bridge;
  CniConfig cni;
  // IPAM: `owner` is stored in leases and port claims; before allocating,
  // those whose container is gone are reclaimed: by `alive` when set, else
  // when their owner is a path that no longer exists (so pass a path that
  // lives exactly as long as the container, e.g. its state directory).
  std::string owner;
  std::function<bool(const Lease&)> alive;
};

// "none", "host", "bridge" or "cni:NAME"; anything else is an error naming it.
Result<Request> parseMode(const std::string& text);

// What was set up, enough to tear it down later from another process.
struct Attachment {
  Mode mode = Mode::None;
  std::string containerId;
  std::string ifName;
  std::vector<std::string> ips;  // "10.88.0.2/16"
  std::vector<PortMapping> ports;
  // bridge
  std::string bridge, hostVeth, table, stateDir;
  // cni
  std::string cniNetwork, cniConfig, cniResult;  // the list's JSON, ADD's result
  std::vector<std::string> cniPluginDirs;

  std::string toJson() const;
  static Result<Attachment> fromJson(const std::string& json);
};

// Sets up the container's network in the namespace at `netnsPath`. All or
// nothing: on error no link, address, rule, lease or published port is left.
Result<Attachment> attach(const std::string& containerId, const std::string& netnsPath,
                          const Request& request);
// Undoes attach; what is already gone (the namespace, with it the veth) is
// fine, so it can run after the container has exited and run twice.
// `netnsPath`: the namespace if it still exists (CNI plugins then also remove
// the links inside it); empty once the container is gone.
Status detach(const Attachment& attachment, const std::string& netnsPath = "");
// What an agent calls at start-up: releases the leases and published ports
// (with their DNAT rules) of the bridge's containers that are gone, judged by
// `alive`, else by their owner path (see Request::owner). Returns them.
Result<std::vector<Lease>> reclaim(const BridgeConfig& config,
                                   const std::function<bool(const Lease&)>& alive = {});
// CNI CHECK for a cni attachment (a no-op for the other modes).
Status check(const Attachment& attachment, const std::string& netnsPath);

}  // namespace nucleo::network
