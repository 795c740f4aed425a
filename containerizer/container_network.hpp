#pragma once
// The runtime's network policy: which network a container gets (flags, else
// its config), set up once its namespace exists and before its process
// starts; what was set up is recorded with the container for `delete`.
//
// For bundles without --network: a config whose linux.namespaces has a
// network namespace without a path gets the annotation
// "org.nucleo.network" (none, bridge, cni:NAME; with
// "org.nucleo.network.ports" = "8080:80/tcp,53:53/udp"), or `none` (loopback
// up) without it; a namespace with a path belongs to whoever made it and is
// left alone, and without a network namespace the container is on the host's.

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "network/network.hpp"
#include "oci/spec.hpp"

namespace nucleo::containerizer {

struct NetworkOptions {
  std::string mode;                  // --network; "" = from the config
  std::vector<std::string> publish;  // -p HOST:CONTAINER[/tcp|udp]
  std::string ip;                    // --ip (bridge)
  network::BridgeConfig bridge;
  network::CniConfig cni;
};

// Checked before launch: bad flags fail before any process exists.
Status validateNetworkOptions(const NetworkOptions& options);

// The request for a launched container, or nullopt when there is nothing to
// set up. `owner` (the container's state directory) is stored in leases.
Result<std::optional<network::Request>> networkRequest(const NetworkOptions& options,
                                                       const oci::Spec& spec,
                                                       const std::string& owner);

}  // namespace nucleo::containerizer
