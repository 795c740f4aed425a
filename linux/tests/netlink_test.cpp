#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "linux/net_link.hpp"
#include "linux/netlink.hpp"

namespace nucleo::os::net {
namespace {

// Hex, so that a mismatch shows which byte differs.
std::string hex(const std::vector<uint8_t>& bytes) {
  std::string out;
  for (uint8_t b : bytes) out += fmt::format("{:02x} ", b);
  return out;
}

std::string bytesOf(const netlink::Message& m) {
  auto b = m.bytes();
  return hex({b.begin(), b.end()});
}

// `ip link set dev <index 3> up` as iproute2 sends it (seq and pid zeroed).
TEST(NetlinkBuilders, SetUpMatchesIproute2) {
  std::vector<uint8_t> want = {
      0x20, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr: 32 bytes, RTM_NEWLINK
      0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};      // ifinfomsg: index 3, IFF_UP/IFF_UP
  EXPECT_EQ(bytesOf(buildSetUp(3, true)), hex(want));
}

// `ip addr add 10.88.0.2/16 dev <index 5>`.
TEST(NetlinkBuilders, AddAddressMatchesIproute2) {
  std::vector<uint8_t> want = {
      0x28, 0, 0, 0, 0x14, 0, 0x00, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,  // RTM_NEWADDR, CREATE|EXCL
      2, 16, 0, 0, 5, 0, 0, 0,                                     // AF_INET /16 index 5
      8, 0, 2, 0, 10, 88, 0, 2,                                    // IFA_LOCAL
      8, 0, 1, 0, 10, 88, 0, 2};                                   // IFA_ADDRESS
  auto net = Ipv4Net::parse("10.88.0.2/16");
  ASSERT_TRUE(net);
  EXPECT_EQ(bytesOf(buildAddAddress(5, *net)), hex(want));
}

// `ip link add br0 type bridge`, except that libmnl marks nests with
// NLA_F_NESTED (0x8000), which iproute2 leaves out and the kernel accepts.
TEST(NetlinkBuilders, CreateBridgeMatchesIproute2) {
  std::vector<uint8_t> want = {0x38, 0, 0, 0, 0x10, 0, 0x00, 0x06, 0, 0, 0, 0, 0, 0, 0, 0};
  want.resize(32, 0);  // ifinfomsg, all zero
  for (uint8_t b : std::initializer_list<uint8_t>{8, 0, 3, 0, 'b', 'r', '0', 0}) want.push_back(b);  // IFLA_IFNAME
  for (uint8_t b : std::initializer_list<uint8_t>{16, 0, 18, 0x80, 11, 0, 1, 0, 'b', 'r', 'i', 'd', 'g', 'e', 0, 0})
    want.push_back(b);  // IFLA_LINKINFO { IFLA_INFO_KIND "bridge" }
  EXPECT_EQ(bytesOf(buildCreateBridge("br0", 0)), hex(want));
}

// `ip route add default via 10.88.0.1 dev <index 2>`.
TEST(NetlinkBuilders, DefaultRouteMatchesIproute2) {
  std::vector<uint8_t> want = {
      0x2c, 0, 0, 0, 0x18, 0, 0x00, 0x06, 0, 0, 0, 0, 0, 0, 0, 0,  // RTM_NEWROUTE
      2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0,  // AF_INET, dst_len 0, main, boot, universe, unicast
      8, 0, 5, 0, 10, 88, 0, 1,              // RTA_GATEWAY
      8, 0, 4, 0, 2, 0, 0, 0};               // RTA_OIF
  EXPECT_EQ(bytesOf(buildAddRoute(std::nullopt, Ipv4{0x0a580001}, 2)), hex(want));
}

TEST(NetlinkBuilders, VethPeerNestsItsOwnHeaderNameAndNamespace) {
  auto m = buildCreateVeth("nv0", "eth0", 1400, 7);
  auto span = m.bytes();
  std::vector<uint8_t> b(span.begin(), span.end());
  // header 16 + ifinfomsg 16 + name 8 + mtu 8 + linkinfo 4 {kind 12,
  // data 4 {peer 4 {ifinfomsg 16, name 12, mtu 8, netns 8}}}
  EXPECT_EQ(b.size(), 116u);
  EXPECT_EQ(b[0], 116);
  // The peer's IFLA_NET_NS_FD (28) carries fd 7 as the last attribute.
  std::vector<uint8_t> tail(b.end() - 8, b.end());
  EXPECT_EQ(tail, (std::vector<uint8_t>{8, 0, 28, 0, 7, 0, 0, 0}));
}

TEST(NetlinkParsers, LinkMessageReadsBack) {
  auto m = buildCreateBridge("nucleo0", 1400);
  auto link = parseLink(m.header());
  ASSERT_TRUE(link);
  EXPECT_EQ(link->name, "nucleo0");
  EXPECT_EQ(link->kind, "bridge");
  EXPECT_EQ(link->mtu, 1400u);
  auto addr = parseAddress(buildAddAddress(4, *Ipv4Net::parse("192.168.7.9/24")).header());
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->index, 4);
  EXPECT_EQ(addr->address.str(), "192.168.7.9/24");
  auto route = parseRoute(buildAddRoute(*Ipv4Net::parse("10.1.2.0/24"), std::nullopt, 3).header());
  ASSERT_TRUE(route);
  ASSERT_TRUE(route->destination);
  EXPECT_EQ(route->destination->str(), "10.1.2.0/24");
  EXPECT_EQ(route->oif, 3);
}

TEST(Ipv4, ParsesMasksAndOverlaps) {
  auto net = Ipv4Net::parse("10.88.3.4/16");
  ASSERT_TRUE(net);
  EXPECT_EQ(net->network().str(), "10.88.0.0");
  EXPECT_EQ(net->broadcast().str(), "10.88.255.255");
  EXPECT_TRUE(net->contains(*Ipv4::parse("10.88.200.1")));
  EXPECT_FALSE(net->contains(*Ipv4::parse("10.89.0.1")));
  EXPECT_TRUE(net->overlaps(*Ipv4Net::parse("10.0.0.0/8")));
  EXPECT_FALSE(net->overlaps(*Ipv4Net::parse("10.89.0.0/16")));
  auto bad = Ipv4Net::parse("10.1.1.1/33");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("10.1.1.1/33"), std::string::npos);
  EXPECT_FALSE(Ipv4::parse("300.1.1.1"));
}

// A fresh network namespace, held by an fd, made by a thread that unshares.
UniqueFd newNetns() {
  UniqueFd out;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) == 0) out = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  });
  t.join();
  return out;
}

TEST(NetlinkRoot, ROOT_BridgeVethAddressRouteInOwnNamespaces) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
  UniqueFd hostNs = newNetns(), peerNs = newNetns();
  ASSERT_TRUE(hostNs && peerNs);
  auto s = netlink::Socket::openIn(hostNs);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(createBridge(*s, "tbr0", 1400));
  auto dup = createBridge(*s, "tbr0", 0);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, EEXIST);
  EXPECT_NE(dup.error().message.find("'tbr0'"), std::string::npos) << dup.error().message;

  auto veth = createVeth(*s, "tv0", "eth0", 1400, &peerNs);
  ASSERT_TRUE(veth) << veth.error().message;
  auto br = linkByName(*s, "tbr0");
  auto tv = linkByName(*s, "tv0");
  ASSERT_TRUE(br && tv);
  EXPECT_EQ(br->kind, "bridge");
  ASSERT_TRUE(setMaster(*s, *tv, *br));
  ASSERT_TRUE(setUp(*s, *br, true));
  ASSERT_TRUE(addAddress(*s, *br, *Ipv4Net::parse("10.250.0.1/24")));
  tv = linkByName(*s, "tv0");
  EXPECT_EQ(tv->master, br->index);

  auto p = netlink::Socket::openIn(peerNs);
  ASSERT_TRUE(p);
  auto eth0 = linkByName(*p, "eth0");
  ASSERT_TRUE(eth0) << eth0.error().message;
  EXPECT_EQ(eth0->mtu, 1400u);
  ASSERT_TRUE(rename(*p, *eth0, "eth1"));
  eth0->name = "eth1";
  ASSERT_TRUE(setUp(*p, *eth0, true));
  ASSERT_TRUE(addAddress(*p, *eth0, *Ipv4Net::parse("10.250.0.2/24")));
  auto route = addRoute(*p, std::nullopt, Ipv4{0x0afa0001}, *eth0);
  ASSERT_TRUE(route) << route.error().message;
  auto routes = listRoutes(*p);
  ASSERT_TRUE(routes);
  bool found = false;
  for (const auto& r : *routes)
    found |= !r.destination && r.gateway && r.gateway->str() == "10.250.0.1";
  EXPECT_TRUE(found);
  auto addrs = listAddresses(*p);
  ASSERT_TRUE(addrs);
  bool hasAddr = false;
  for (const auto& a : *addrs) hasAddr |= a.address.str() == "10.250.0.2/24";
  EXPECT_TRUE(hasAddr);

  auto gone = deleteLink(*s, "nosuchlink0");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ENODEV);
  EXPECT_NE(gone.error().message.find("nosuchlink0"), std::string::npos);
  ASSERT_TRUE(deleteLink(*s, "tv0"));  // takes the peer with it
  EXPECT_FALSE(linkByName(*p, "eth1"));
}

}  // namespace
}  // namespace nucleo::os::net
