#pragma once
// Links, IPv4 addresses and routes over rtnetlink: bridges, veth pairs,
// moving a link into a namespace, up/down, MTU, master, addresses, routes, and
// reading them back. `build*` functions are pure (tested byte for byte); the
// others send them on a netlink::Socket and name the link in their errors
// ("create veth 'nv1a2b': File exists").

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "linux/netlink.hpp"

namespace nucleo::os::net {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  // Dotted quad; an error names the text.
  static Result<Ipv4> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Ipv4&) const = default;
};

// An address with a prefix length ("10.88.0.2/16").
struct Ipv4Net {
  Ipv4 address;
  int prefix = 32;
  static Result<Ipv4Net> parse(std::string_view text);
  std::string str() const;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  Ipv4 network() const { return {address.value & mask()}; }
  Ipv4 broadcast() const { return {network().value | ~mask()}; }
  bool contains(Ipv4 ip) const { return (ip.value & mask()) == network().value; }
  bool overlaps(const Ipv4Net& other) const;
  bool operator==(const Ipv4Net&) const = default;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // "bridge", "veth", "" (no IFLA_LINKINFO)
  unsigned flags = 0;  // IFF_*
  uint32_t mtu = 0;
  int master = 0;
};

struct AddressInfo {
  int index = 0;
  Ipv4Net address;
};

struct RouteInfo {
  std::optional<Ipv4Net> destination;  // nullopt: default route
  std::optional<Ipv4> gateway;
  int oif = 0;
  uint32_t table = 0;
};

// Message builders. `mtu` 0 leaves the kernel's default.
netlink::Message buildCreateBridge(const std::string& name, uint32_t mtu);
// `peerNetns` >= 0 creates the peer directly inside that namespace.
netlink::Message buildCreateVeth(const std::string& name, const std::string& peer, uint32_t mtu,
                                 int peerNetns);
netlink::Message buildDeleteLink(const std::string& name);
netlink::Message buildSetUp(int index, bool up);
netlink::Message buildSetMtu(int index, uint32_t mtu);
netlink::Message buildSetMaster(int index, int master);
netlink::Message buildSetNetns(int index, int netnsFd);
netlink::Message buildRename(int index, const std::string& name);
netlink::Message buildAddAddress(int index, const Ipv4Net& address);
// A route in the main table; `destination` nullopt is the default route.
netlink::Message buildAddRoute(const std::optional<Ipv4Net>& destination,
                               std::optional<Ipv4> gateway, int oif);
netlink::Message buildGetLinks();
netlink::Message buildGetAddresses();
netlink::Message buildGetRoutes();

// Reply parsers (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE); nullopt for other
// messages and for non-IPv4 addresses and routes.
std::optional<LinkInfo> parseLink(const nlmsghdr* nlh);
std::optional<AddressInfo> parseAddress(const nlmsghdr* nlh);
std::optional<RouteInfo> parseRoute(const nlmsghdr* nlh);

// Operations. Errors name the link; ENODEV/EEXIST/EBUSY keep their code.
Status createBridge(netlink::Socket& s, const std::string& name, uint32_t mtu);
Status createVeth(netlink::Socket& s, const std::string& name, const std::string& peer,
                  uint32_t mtu, const UniqueFd* peerNetns);
Status deleteLink(netlink::Socket& s, const std::string& name);
Status setUp(netlink::Socket& s, const LinkInfo& link, bool up);
Status setMtu(netlink::Socket& s, const LinkInfo& link, uint32_t mtu);
Status setMaster(netlink::Socket& s, const LinkInfo& link, const LinkInfo& master);
Status setNetns(netlink::Socket& s, const LinkInfo& link, const UniqueFd& netns);
Status rename(netlink::Socket& s, const LinkInfo& link, const std::string& name);
Status addAddress(netlink::Socket& s, const LinkInfo& link, const Ipv4Net& address);
Status addRoute(netlink::Socket& s, const std::optional<Ipv4Net>& destination,
                std::optional<Ipv4> gateway, const LinkInfo& link);
Result<std::vector<LinkInfo>> listLinks(netlink::Socket& s);
// ENODEV "link 'x' does not exist" when there is none.
Result<LinkInfo> linkByName(netlink::Socket& s, const std::string& name);
Result<std::vector<AddressInfo>> listAddresses(netlink::Socket& s);
Result<std::vector<RouteInfo>> listRoutes(netlink::Socket& s);

}  // namespace nucleo::os::net
