#include "containerizer/container_network.hpp"

#include "base/strings.hpp"

namespace nucleo::containerizer {
namespace {

constexpr const char* NETWORK_ANNOTATION = "org.nucleo.network";
constexpr const char* PORTS_ANNOTATION = "org.nucleo.network.ports";

Result<network::Request> buildRequest(const NetworkOptions& o, const std::string& mode,
                                      const std::vector<std::string>& publish) {
  TRY_ASSIGN(network::Request req, network::parseMode(mode));
  for (const auto& p : publish) {
    TRY_ASSIGN(auto mapping, network::parsePortMapping(p));
    for (const auto& seen : req.ports)
      if (seen.hostPort == mapping.hostPort && seen.protocol == mapping.protocol)
        return Error{EINVAL, fmt::format("port {}/{} is published twice", mapping.hostPort, mapping.protocol)};
    req.ports.push_back(mapping);
  }
  if (!o.ip.empty()) {
    if (req.mode != network::Mode::Bridge) return Error{EINVAL, "--ip needs --network bridge"};
    TRY_ASSIGN(req.address, os::net::Ipv4::parse(o.ip));
  }
  if (!req.ports.empty() && (req.mode == network::Mode::None || req.mode == network::Mode::Host))
    return Error{EINVAL, fmt::format("-p: ports are published only with --network bridge or cni:NAME, not {}",
                                     mode)};
  req.bridge = o.bridge;
  req.cni = o.cni;
  return req;
}

}  // namespace

Status validateNetworkOptions(const NetworkOptions& o) {
  if (o.mode.empty()) {
    if (!o.publish.empty() || !o.ip.empty()) return Error{EINVAL, "-p and --ip need --network"};
    return ok();
  }
  TRY(buildRequest(o, o.mode, o.publish));
  return ok();
}

Result<std::optional<network::Request>> networkRequest(const NetworkOptions& o,
                                                       const oci::Spec& spec,
                                                       const std::string& owner) {
  const oci::Namespace* ns = spec.linux.findNamespace("network");
  std::string mode = o.mode;
  std::vector<std::string> publish = o.publish;
  if (mode.empty()) {
    if (!ns || !ns->path.empty()) return std::optional<network::Request>();
    auto a = spec.annotations.find(NETWORK_ANNOTATION);
    mode = a == spec.annotations.end() ? "none" : a->second;
    if (auto p = spec.annotations.find(PORTS_ANNOTATION); p != spec.annotations.end())
      publish = strings::split(p->second, ',', true);
  }
  auto req = buildRequest(o, mode, publish);
  if (!req) return std::move(req).error().context("network");
  if (req->mode == network::Mode::Host) {
    // The launcher left the network namespace out (LaunchRequest::hostNetwork).
    if (ns && ns->path.empty()) return Error{EINVAL, "--network host: config.json asks for a network namespace"};
    return std::optional<network::Request>();
  }
  if (!ns)
    return Error{EINVAL, fmt::format("--network {}: config.json has no network namespace "
                                     "(linux.namespaces)", mode)};
  if (!ns->path.empty())
    return Error{EINVAL, fmt::format("--network {}: config.json joins the network namespace '{}'; "
                                     "its owner sets up its network", mode, ns->path)};
  req->owner = owner;
  return std::optional<network::Request>(std::move(*req));
}

}  // namespace nucleo::containerizer
