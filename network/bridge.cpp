// Bridge mode: a veth pair per container on a Linux bridge, an address from
// the bridge's subnet, masquerade out and DNAT in for published ports.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "base/fs.hpp"
#include "base/sha256.hpp"
#include "linux/process.hpp"
#include "network/internal.hpp"
#include "network/nft.hpp"

namespace nucleo::network::internal {
namespace {

using os::net::Ipv4;
using os::net::Ipv4Net;
using os::net::LinkInfo;
namespace nl = os::net;

struct BridgeInfo {
  LinkInfo link;
  Ipv4Net gateway;  // the bridge's own address, with the subnet's prefix
};

// Serialises set-up and tear-down on this host: bridge creation, rules and
// published ports are checked and changed as one step.
Result<UniqueFd> lockState(const std::string& stateDir) {
  TRY(fs::makeDirs(stateDir, 0700));
  TRY_ASSIGN(UniqueFd fd, UniqueFd::open(stateDir + "/lock", O_RDWR | O_CREAT, 0600));
  while (::flock(fd.get(), LOCK_EX) < 0)
    if (errno != EINTR) return Error::fromErrno("lock '" + stateDir + "/lock'");
  return fd;
}

Status writeSysctl(const std::string& path, const std::string& value) {
  auto current = fs::readFile(path);
  if (current && current->substr(0, value.size()) == value) return ok();
  return fs::writeExisting(path, value);
}

Result<Ipv4Net> pickSubnet(os::netlink::Socket& host, const BridgeConfig& cfg) {
  TRY_ASSIGN(auto routes, nl::listRoutes(host));
  auto clash = [&](const Ipv4Net& net) -> std::optional<Ipv4Net> {
    for (const auto& r : routes)
      if (r.destination && r.table != 255 && r.destination->overlaps(net)) return r.destination;
    return std::nullopt;
  };
  if (cfg.subnet) {
    if (auto c = clash(*cfg.subnet))
      return Error{EADDRINUSE, fmt::format("subnet {} for bridge '{}' overlaps the host's route to {}",
                                           cfg.subnet->str(), cfg.name, c->str())};
    return *cfg.subnet;
  }
  std::vector<std::string> candidates;
  for (int b = 88; b < 100; ++b) candidates.push_back(fmt::format("10.{}.0.0/16", b));
  for (int b = 20; b < 31; ++b) candidates.push_back(fmt::format("172.{}.0.0/16", b));
  for (const auto& c : candidates) {
    auto net = *Ipv4Net::parse(c);
    if (!clash(net)) return net;
  }
  return Error{EADDRINUSE, fmt::format("bridge '{}': every default subnet (10.88-99.0.0/16, "
                                       "172.20-30.0.0/16) overlaps a host route; give one", cfg.name)};
}

Result<BridgeInfo> existingBridge(os::netlink::Socket& host, const BridgeConfig& cfg,
                                  const LinkInfo& link) {
  if (link.kind != "bridge")
    return Error{EEXIST, fmt::format("link '{}' exists and is not a bridge", cfg.name)};
  TRY_ASSIGN(auto addrs, nl::listAddresses(host));
  for (const auto& a : addrs) {
    if (a.index != link.index) continue;
    if (cfg.subnet && !(Ipv4Net{a.address.network(), a.address.prefix} ==
                        Ipv4Net{cfg.subnet->network(), cfg.subnet->prefix}))
      return Error{EINVAL, fmt::format("bridge '{}' has subnet {}, not {}", cfg.name,
                                       Ipv4Net{a.address.network(), a.address.prefix}.str(),
                                       cfg.subnet->str())};
    return BridgeInfo{link, a.address};
  }
  return Error{EINVAL, fmt::format("bridge '{}' exists without an IPv4 address", cfg.name)};
}

// The bridge, created with its gateway address and rules when missing.
Result<BridgeInfo> ensureBridge(os::netlink::Socket& host, const BridgeConfig& cfg) {
  auto link = nl::linkByName(host, cfg.name);
  if (link) return existingBridge(host, cfg, *link);
  if (link.error().code != ENODEV) return std::move(link).error();
  TRY_ASSIGN(Ipv4Net subnet, pickSubnet(host, cfg));
  Ipv4Net gateway{{subnet.network().value + 1}, subnet.prefix};
  TRY(nl::createBridge(host, cfg.name, cfg.mtu ? cfg.mtu : 1500));
  Rollback undo;
  undo.add([&] { (void)nl::deleteLink(host, cfg.name); });
  TRY_ASSIGN(LinkInfo created, nl::linkByName(host, cfg.name));
  TRY(nl::addAddress(host, created, gateway));
  TRY(nl::setUp(host, created, true));
  // Outbound traffic is forwarded; a published port reached from the host
  // at 127.0.0.1 is DNATed into the bridge with its loopback source, which
  // the kernel drops as martian unless route_localnet is on for the bridge.
  TRY(writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"));
  TRY(writeSysctl("/proc/sys/net/ipv4/conf/" + cfg.name + "/route_localnet", "1"));
  TRY(applyNft(bridgeScript(cfg.table, cfg.name, subnet)).context("bridge '{}'", cfg.name));
  undo.dismiss();
  return BridgeInfo{created, gateway};
}

// A lease or port claim is live while its container is: by the request's
// predicate, else while the owner path exists; without an owner, always.
bool leaseAlive(const Request& req, const Lease& lease) {
  if (req.alive) return req.alive(lease);
  return lease.owner.empty() || fs::exists(lease.owner);
}

std::string portPath(const std::string& stateDir, const PortMapping& p) {
  return fmt::format("{}/ports/{}-{}", stateDir, p.protocol, p.hostPort);
}

Lease readClaim(const std::string& path) {
  Lease holder{{0}, "", ""};
  auto text = fs::readFile(path);
  if (!text) return holder;
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  if (ec || !v.is_object()) return holder;
  if (auto* c = v.as_object().if_contains("container"); c && c->is_string())
    holder.container = c->as_string().c_str();
  if (auto* o = v.as_object().if_contains("owner"); o && o->is_string())
    holder.owner = o->as_string().c_str();
  return holder;
}

// Claims host ports with O_EXCL files; a claim whose container is gone (by
// the request's `alive`) is taken over.
Status claimPort(const Request& req, const std::string& id, const PortMapping& p) {
  std::string path = portPath(req.bridge.stateDir, p);
  std::string body = boost::json::serialize(boost::json::object{{"container", id}, {"owner", req.owner}});
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      UniqueFd owned(fd);
      if (::write(fd, body.data(), body.size()) != static_cast<ssize_t>(body.size()))
        return Error::fromErrno("write '" + path + "'");
      return ok();
    }
    if (errno != EEXIST) return Error::fromErrno("claim port '" + path + "'");
    Lease holder = readClaim(path);
    if (leaseAlive(req, holder) || attempt > 0)
      return Error{EADDRINUSE, fmt::format("host port {}/{} is already published by container \"{}\"",
                                           p.hostPort, p.protocol, holder.container)};
    ::unlink(path.c_str());
  }
  return ok();
}

void releasePort(const std::string& stateDir, const std::string& id, const PortMapping& p) {
  std::string path = portPath(stateDir, p);
  auto text = fs::readFile(path);
  if (text && text->find(boost::json::serialize(boost::json::value(id))) == std::string::npos) return;
  ::unlink(path.c_str());
}

std::string hostVethName(const std::string& containerId) {
  return "nv" + Sha256::hex(containerId).substr(0, 11);
}

Status configureInside(const UniqueFd& netns, const std::string& ifName, const Ipv4Net& address,
                       Ipv4 gateway) {
  TRY_ASSIGN(auto s, os::netlink::Socket::openIn(netns));
  TRY_ASSIGN(LinkInfo lo, nl::linkByName(s, "lo"));
  TRY(nl::setUp(s, lo, true));
  TRY_ASSIGN(LinkInfo eth, nl::linkByName(s, ifName));
  TRY(nl::addAddress(s, eth, address));
  TRY(nl::setUp(s, eth, true));
  return nl::addRoute(s, std::nullopt, gateway, eth);
}

// Port claims whose container is gone: removed, with that container's rules.
Result<std::vector<Lease>> reclaimPorts(const BridgeConfig& cfg,
                                        const std::function<bool(const Lease&)>& alive) {
  std::vector<Lease> released;
  std::string dir = cfg.stateDir + "/ports";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return released;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& name : names) {
    Lease holder = readClaim(dir + "/" + name);
    if (!holder.container.empty() && alive(holder)) continue;
    ::unlink((dir + "/" + name).c_str());
    if (!holder.container.empty()) TRY(deleteTagged(cfg.table, ruleTag(holder.container)));
    released.push_back(std::move(holder));
  }
  return released;
}

Result<std::vector<Lease>> reclaimLocked(const BridgeConfig& cfg,
                                         const std::function<bool(const Lease&)>& alive) {
  Ipam ipam(cfg.stateDir + "/" + cfg.name, Ipv4Net{}, Ipv4{});
  TRY_ASSIGN(auto leases, ipam.reclaim(alive));
  TRY_ASSIGN(auto ports, reclaimPorts(cfg, alive));
  leases.insert(leases.end(), ports.begin(), ports.end());
  return leases;
}

}  // namespace

Result<std::vector<Lease>> reclaimBridge(const BridgeConfig& cfg,
                                         const std::function<bool(const Lease&)>& alive) {
  TRY_ASSIGN(UniqueFd lock, lockState(cfg.stateDir));
  Request req;
  req.alive = alive;
  return reclaimLocked(cfg, [&req](const Lease& l) { return leaseAlive(req, l); });
}

Result<Attachment> attachBridge(const std::string& id, const std::string& netnsPath,
                                const Request& req) {
  const BridgeConfig& cfg = req.bridge;
  TRY_ASSIGN(UniqueFd netns, os::openNamespace(netnsPath, CLONE_NEWNET));
  TRY_ASSIGN(UniqueFd lock, lockState(cfg.stateDir));
  TRY_ASSIGN(auto host, os::netlink::Socket::open());
  TRY_ASSIGN(BridgeInfo br, ensureBridge(host, cfg));
  Ipam ipam(cfg.stateDir + "/" + cfg.name, br.gateway, br.gateway.address);
  TRY(reclaimLocked(cfg, [&req](const Lease& l) { return leaseAlive(req, l); }));

  Attachment att;
  att.mode = Mode::Bridge;
  att.containerId = id;
  att.ifName = req.ifName;
  att.bridge = cfg.name;
  att.table = cfg.table;
  att.stateDir = cfg.stateDir;
  att.hostVeth = hostVethName(id);
  Rollback undo;
  TRY_ASSIGN(Ipv4 ip, ipam.allocate(id, req.owner, req.address).context("bridge '{}'", cfg.name));
  undo.add([&ipam, ip, &id] { (void)ipam.release(ip, id); });
  TRY(fs::makeDirs(cfg.stateDir + "/ports", 0700));
  for (const auto& p : req.ports) {
    TRY(claimPort(req, id, p));
    undo.add([&cfg, &id, p] { releasePort(cfg.stateDir, id, p); });
  }
  TRY(nl::createVeth(host, att.hostVeth, req.ifName, br.link.mtu, &netns));
  undo.add([&] { (void)nl::deleteLink(host, att.hostVeth); });
  TRY_ASSIGN(LinkInfo hostEnd, nl::linkByName(host, att.hostVeth));
  TRY(nl::setMaster(host, hostEnd, br.link));
  TRY(nl::setUp(host, hostEnd, true));
  Ipv4Net address{ip, br.gateway.prefix};
  TRY(configureInside(netns, req.ifName, address, br.gateway.address).context("container netns"));
  if (!req.ports.empty()) {
    std::vector<DnatRule> rules;
    for (const auto& p : req.ports) rules.push_back({p.protocol, p.hostPort, ip, p.containerPort});
    TRY(applyNft(dnatScript(cfg.table, ruleTag(id), rules)).context("publish ports"));
  }
  att.ips = {address.str()};
  att.ports = req.ports;
  undo.dismiss();
  return att;
}

Status detachBridge(const Attachment& att) {
  TRY_ASSIGN(UniqueFd lock, lockState(att.stateDir));
  Status first;
  auto keep = [&](Status s) {
    if (!s && first) first = std::move(s);
  };
  TRY_ASSIGN(auto host, os::netlink::Socket::open());
  auto del = nl::deleteLink(host, att.hostVeth);
  if (!del && del.error().code != ENODEV) keep(std::move(del));
  if (!att.ports.empty()) keep(deleteTagged(att.table, ruleTag(att.containerId)));
  for (const auto& p : att.ports) releasePort(att.stateDir, att.containerId, p);
  for (const auto& text : att.ips) {
    auto net = Ipv4Net::parse(text);
    if (!net) continue;
    Ipam ipam(att.stateDir + "/" + att.bridge, *net, {0});
    keep(ipam.release(net->address, att.containerId));
  }
  return first;
}

}  // namespace nucleo::network::internal
