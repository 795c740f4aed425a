#include "linux/net_link.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <functional>

namespace nucleo::os::net {
namespace {

using netlink::Message;

// Calls `each` for every attribute after a fixed header of `offset` bytes,
// or inside `nest` when given.
void forEachAttr(const nlmsghdr* nlh, size_t offset,
                 const std::function<void(const nlattr*)>& each) {
  const char* start = static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (auto* a = reinterpret_cast<const nlattr*>(start);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a))
    each(a);
}

void forEachNested(const nlattr* nest, const std::function<void(const nlattr*)>& each) {
  const char* end = static_cast<const char*>(mnl_attr_get_payload(nest)) +
                    mnl_attr_get_payload_len(nest);
  for (auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a))
    each(a);
}

Ipv4 attrIpv4(const nlattr* a) { return {ntohl(mnl_attr_get_u32(a))}; }

void putIpv4(Message& m, uint16_t type, Ipv4 ip) {
  uint32_t net = htonl(ip.value);
  m.putBytes(type, &net, sizeof net);
}

Message linkChange(int index) {
  Message m(RTM_NEWLINK, 0);
  auto* ifi = m.putHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return m;
}

Status linkRequest(netlink::Socket& s, Message m, const std::string& what,
                   const std::string& name) {
  auto r = s.request(m);
  if (!r) return std::move(r).error().context("{} '{}'", what, name);
  return ok();
}

}  // namespace

Result<Ipv4> Ipv4::parse(std::string_view text) {
  std::string copy(text);
  in_addr a{};
  if (::inet_pton(AF_INET, copy.c_str(), &a) != 1)
    return Error{EINVAL, fmt::format("'{}' is not an IPv4 address", text)};
  return Ipv4{ntohl(a.s_addr)};
}

std::string Ipv4::str() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 255, (value >> 8) & 255,
                     value & 255);
}

Result<Ipv4Net> Ipv4Net::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Error{EINVAL, fmt::format("'{}' is not an IPv4 network (a.b.c.d/len)", text)};
  TRY_ASSIGN(Ipv4 ip, Ipv4::parse(text.substr(0, slash)));
  std::string len(text.substr(slash + 1));
  char* end = nullptr;
  long prefix = std::strtol(len.c_str(), &end, 10);
  if (len.empty() || *end || prefix < 0 || prefix > 32)
    return Error{EINVAL, fmt::format("'{}': prefix length must be 0..32", text)};
  return Ipv4Net{ip, static_cast<int>(prefix)};
}

std::string Ipv4Net::str() const { return fmt::format("{}/{}", address.str(), prefix); }

bool Ipv4Net::overlaps(const Ipv4Net& other) const {
  int shorter = std::min(prefix, other.prefix);
  uint32_t m = shorter == 0 ? 0 : ~uint32_t{0} << (32 - shorter);
  return (address.value & m) == (other.address.value & m);
}

Message buildCreateBridge(const std::string& name, uint32_t mtu) {
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  if (mtu) m.putU32(IFLA_MTU, mtu);
  nlattr* info = m.beginNest(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "bridge");
  m.endNest(info);
  return m;
}

Message buildCreateVeth(const std::string& name, const std::string& peer, uint32_t mtu,
                        int peerNetns) {
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  if (mtu) m.putU32(IFLA_MTU, mtu);
  nlattr* info = m.beginNest(IFLA_LINKINFO);
  m.putString(IFLA_INFO_KIND, "veth");
  nlattr* data = m.beginNest(IFLA_INFO_DATA);
  nlattr* peerNest = m.beginNest(VETH_INFO_PEER);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, peer);
  if (mtu) m.putU32(IFLA_MTU, mtu);
  if (peerNetns >= 0) m.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(peerNetns));
  m.endNest(peerNest);
  m.endNest(data);
  m.endNest(info);
  return m;
}

Message buildDeleteLink(const std::string& name) {
  Message m(RTM_DELLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  m.putString(IFLA_IFNAME, name);
  return m;
}

Message buildSetUp(int index, bool up) {
  Message m = linkChange(index);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(m.header()));
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;
  return m;
}

Message buildSetMtu(int index, uint32_t mtu) {
  Message m = linkChange(index);
  m.putU32(IFLA_MTU, mtu);
  return m;
}

Message buildSetMaster(int index, int master) {
  Message m = linkChange(index);
  m.putU32(IFLA_MASTER, static_cast<uint32_t>(master));
  return m;
}

Message buildSetNetns(int index, int netnsFd) {
  Message m = linkChange(index);
  m.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(netnsFd));
  return m;
}

Message buildRename(int index, const std::string& name) {
  Message m = linkChange(index);
  m.putString(IFLA_IFNAME, name);
  return m;
}

Message buildAddAddress(int index, const Ipv4Net& address) {
  Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.putHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(address.prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  putIpv4(m, IFA_LOCAL, address.address);
  putIpv4(m, IFA_ADDRESS, address.address);
  return m;
}

Message buildAddRoute(const std::optional<Ipv4Net>& destination, std::optional<Ipv4> gateway,
                      int oif) {
  Message m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = m.putHeader<rtmsg>();
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = static_cast<uint8_t>(destination ? destination->prefix : 0);
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rt->rtm_type = RTN_UNICAST;
  if (destination) putIpv4(m, RTA_DST, destination->network());
  if (gateway) putIpv4(m, RTA_GATEWAY, *gateway);
  m.putU32(RTA_OIF, static_cast<uint32_t>(oif));
  return m;
}

Message buildGetLinks() {
  Message m(RTM_GETLINK, 0);
  m.putHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  return m;
}

Message buildGetAddresses() {
  Message m(RTM_GETADDR, 0);
  m.putHeader<ifaddrmsg>()->ifa_family = AF_INET;
  return m;
}

Message buildGetRoutes() {
  Message m(RTM_GETROUTE, 0);
  m.putHeader<rtmsg>()->rtm_family = AF_INET;
  return m;
}

std::optional<LinkInfo> parseLink(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(ifinfomsg))
    return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkInfo link;
  link.index = ifi->ifi_index;
  link.flags = ifi->ifi_flags;
  forEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case IFLA_IFNAME: link.name = mnl_attr_get_str(a); break;
      case IFLA_MTU: link.mtu = mnl_attr_get_u32(a); break;
      case IFLA_MASTER: link.master = static_cast<int>(mnl_attr_get_u32(a)); break;
      case IFLA_LINKINFO:
        forEachNested(a, [&](const nlattr* i) {
          if (mnl_attr_get_type(i) == IFLA_INFO_KIND) link.kind = mnl_attr_get_str(i);
        });
        break;
      default: break;
    }
  });
  return link;
}

std::optional<AddressInfo> parseAddress(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(ifaddrmsg))
    return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifa->ifa_family != AF_INET) return std::nullopt;
  AddressInfo out;
  out.index = static_cast<int>(ifa->ifa_index);
  out.address.prefix = ifa->ifa_prefixlen;
  bool local = false;
  forEachAttr(nlh, sizeof(ifaddrmsg), [&](const nlattr* a) {
    auto type = mnl_attr_get_type(a);
    if (type == IFA_LOCAL) {
      out.address.address = attrIpv4(a);
      local = true;
    } else if (type == IFA_ADDRESS && !local) {
      out.address.address = attrIpv4(a);
    }
  });
  return out;
}

std::optional<RouteInfo> parseRoute(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg))
    return std::nullopt;
  const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rt->rtm_family != AF_INET) return std::nullopt;
  RouteInfo out;
  out.table = rt->rtm_table;
  if (rt->rtm_dst_len > 0) out.destination = Ipv4Net{{0}, rt->rtm_dst_len};
  forEachAttr(nlh, sizeof(rtmsg), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case RTA_DST:
        if (out.destination) out.destination->address = attrIpv4(a);
        break;
      case RTA_GATEWAY: out.gateway = attrIpv4(a); break;
      case RTA_OIF: out.oif = static_cast<int>(mnl_attr_get_u32(a)); break;
      case RTA_TABLE: out.table = mnl_attr_get_u32(a); break;
      default: break;
    }
  });
  return out;
}

Status createBridge(netlink::Socket& s, const std::string& name, uint32_t mtu) {
  return linkRequest(s, buildCreateBridge(name, mtu), "create bridge", name);
}

Status createVeth(netlink::Socket& s, const std::string& name, const std::string& peer,
                  uint32_t mtu, const UniqueFd* peerNetns) {
  return linkRequest(s, buildCreateVeth(name, peer, mtu, peerNetns ? peerNetns->get() : -1),
                     "create veth", name + "' (peer '" + peer);
}

Status deleteLink(netlink::Socket& s, const std::string& name) {
  return linkRequest(s, buildDeleteLink(name), "delete link", name);
}

Status setUp(netlink::Socket& s, const LinkInfo& link, bool up) {
  return linkRequest(s, buildSetUp(link.index, up), up ? "set up" : "set down", link.name);
}

Status setMtu(netlink::Socket& s, const LinkInfo& link, uint32_t mtu) {
  return linkRequest(s, buildSetMtu(link.index, mtu), fmt::format("set mtu {} on", mtu), link.name);
}

Status setMaster(netlink::Socket& s, const LinkInfo& link, const LinkInfo& master) {
  return linkRequest(s, buildSetMaster(link.index, master.index),
                     fmt::format("attach to '{}'", master.name), link.name);
}

Status setNetns(netlink::Socket& s, const LinkInfo& link, const UniqueFd& netns) {
  return linkRequest(s, buildSetNetns(link.index, netns.get()), "move to namespace", link.name);
}

Status rename(netlink::Socket& s, const LinkInfo& link, const std::string& name) {
  return linkRequest(s, buildRename(link.index, name), fmt::format("rename to '{}'", name),
                     link.name);
}

Status addAddress(netlink::Socket& s, const LinkInfo& link, const Ipv4Net& address) {
  return linkRequest(s, buildAddAddress(link.index, address),
                     fmt::format("add address {} to", address.str()), link.name);
}

Status addRoute(netlink::Socket& s, const std::optional<Ipv4Net>& destination,
                std::optional<Ipv4> gateway, const LinkInfo& link) {
  std::string what = fmt::format("add route {}{} on", destination ? destination->str() : "default",
                                 gateway ? " via " + gateway->str() : "");
  return linkRequest(s, buildAddRoute(destination, gateway, link.index), what, link.name);
}

Result<std::vector<LinkInfo>> listLinks(netlink::Socket& s) {
  std::vector<LinkInfo> out;
  Message m = buildGetLinks();
  TRY(s.dump(m, [&](const nlmsghdr* nlh) {
        if (auto l = parseLink(nlh)) out.push_back(std::move(*l));
      }).context("list links"));
  return out;
}

Result<LinkInfo> linkByName(netlink::Socket& s, const std::string& name) {
  TRY_ASSIGN(auto links, listLinks(s));
  for (auto& l : links)
    if (l.name == name) return std::move(l);
  return Error{ENODEV, fmt::format("link '{}' does not exist", name)};
}

Result<std::vector<AddressInfo>> listAddresses(netlink::Socket& s) {
  std::vector<AddressInfo> out;
  Message m = buildGetAddresses();
  TRY(s.dump(m, [&](const nlmsghdr* nlh) {
        if (auto a = parseAddress(nlh)) out.push_back(*a);
      }).context("list addresses"));
  return out;
}

Result<std::vector<RouteInfo>> listRoutes(netlink::Socket& s) {
  std::vector<RouteInfo> out;
  Message m = buildGetRoutes();
  TRY(s.dump(m, [&](const nlmsghdr* nlh) {
        if (auto r = parseRoute(nlh)) out.push_back(*r);
      }).context("list routes"));
  return out;
}

}  // namespace nucleo::os::net
