#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <thread>

#include "base/fs.hpp"
#include "network/command.hpp"
#include "network/ipam.hpp"
#include "network/network.hpp"
#include "network/nft.hpp"

namespace nucleo::network {
namespace {

using os::net::Ipv4;
using os::net::Ipv4Net;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/nucleo-net-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)fs::removeAll(path); }
};

Ipam smallIpam(const std::string& dir) {
  return Ipam(dir, *Ipv4Net::parse("10.77.0.0/24"), *Ipv4::parse("10.77.0.1"));
}

TEST(Ipam, AllocatesLowestFreeSkippingGatewayAndReleases) {
  TempDir t;
  Ipam ipam = smallIpam(t.path);
  auto a = ipam.allocate("a", "owner-a");
  auto b = ipam.allocate("b", "owner-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->str(), "10.77.0.2");
  EXPECT_EQ(b->str(), "10.77.0.3");
  ASSERT_TRUE(ipam.release(*a, "a"));
  auto c = ipam.allocate("c", "owner-c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->str(), "10.77.0.2");
  // Releasing on behalf of another container leaves the lease alone.
  ASSERT_TRUE(ipam.release(*c, "a"));
  EXPECT_TRUE(fs::exists(t.path + "/10.77.0.2"));
}

TEST(Ipam, WantedAddressOutsideReservedOrTakenIsAClearError) {
  TempDir t;
  Ipam ipam = smallIpam(t.path);
  auto out = ipam.allocate("x", "", *Ipv4::parse("10.78.0.5"));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "address 10.78.0.5 is outside subnet 10.77.0.0/24");
  auto gw = ipam.allocate("x", "", *Ipv4::parse("10.77.0.1"));
  ASSERT_FALSE(gw);
  EXPECT_NE(gw.error().message.find("reserved"), std::string::npos);
  ASSERT_TRUE(ipam.allocate("first", "", *Ipv4::parse("10.77.0.9")));
  auto taken = ipam.allocate("second", "", *Ipv4::parse("10.77.0.9"));
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().message, "address 10.77.0.9 is in use by container \"first\"");
  auto leases = ipam.leases();
  ASSERT_TRUE(leases);
  EXPECT_EQ(leases->size(), 1u);  // the failures left nothing behind
}

TEST(Ipam, FullSubnetSaysSo) {
  TempDir t;
  Ipam ipam(t.path, *Ipv4Net::parse("10.77.0.0/30"), *Ipv4::parse("10.77.0.1"));
  ASSERT_TRUE(ipam.allocate("a", ""));
  auto full = ipam.allocate("b", "");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message, "subnet 10.77.0.0/30 is full");
}

TEST(Ipam, ManyThreadsNeverShareAnAddress) {
  TempDir t;
  constexpr int THREADS = 16, EACH = 12;
  std::mutex mu;
  std::vector<std::string> got;
  std::vector<std::thread> threads;
  for (int i = 0; i < THREADS; ++i)
    threads.emplace_back([&, i] {
      Ipam ipam = smallIpam(t.path);
      for (int j = 0; j < EACH; ++j) {
        auto ip = ipam.allocate(fmt::format("c{}-{}", i, j), "");
        std::lock_guard lock(mu);
        got.push_back(ip ? ip->str() : "error: " + ip.error().message);
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::string> unique(got.begin(), got.end());
  EXPECT_EQ(unique.size(), got.size());
  EXPECT_EQ(got.size(), static_cast<size_t>(THREADS * EACH));
  for (const auto& g : got) EXPECT_EQ(g.find("error"), std::string::npos) << g;
}

TEST(Ipam, ManyProcessesNeverShareAnAddress) {
  TempDir t;
  constexpr int PROCS = 8, EACH = 20;
  std::vector<pid_t> pids;
  for (int i = 0; i < PROCS; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      Ipam ipam = smallIpam(t.path);
      for (int j = 0; j < EACH; ++j)
        if (!ipam.allocate(fmt::format("p{}-{}", i, j), "")) ::_exit(1);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto leases = smallIpam(t.path).leases();
  ASSERT_TRUE(leases);
  std::set<std::string> containers;
  for (const auto& l : *leases) containers.insert(l.container);
  // One file per address, so one lease per container means no sharing.
  EXPECT_EQ(leases->size(), static_cast<size_t>(PROCS * EACH));
  EXPECT_EQ(containers.size(), static_cast<size_t>(PROCS * EACH));
}

TEST(Ipam, RestartReclaimsLeasesOfContainersThatAreGone) {
  TempDir t;
  {
    Ipam ipam = smallIpam(t.path);
    ASSERT_TRUE(ipam.allocate("alive", "/run/x/alive"));
    ASSERT_TRUE(ipam.allocate("dead", "/run/x/dead"));
  }
  ASSERT_TRUE(fs::writeFileAtomic(t.path + "/10.77.0.50", "garbage"));  // torn lease
  Ipam restarted = smallIpam(t.path);
  auto gone = restarted.reclaim([](const Lease& l) { return l.container == "alive"; });
  ASSERT_TRUE(gone);
  std::set<std::string> released;
  for (const auto& l : *gone) released.insert(l.address.str());
  EXPECT_EQ(released, (std::set<std::string>{"10.77.0.3", "10.77.0.50"}));
  auto next = restarted.allocate("new", "");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->str(), "10.77.0.3");
}

TEST(Network, ReclaimAtStartUpReleasesLeasesOfGoneOwners) {
  TempDir t;
  BridgeConfig cfg;
  cfg.name = "br-x";
  cfg.stateDir = t.path;
  std::string liveOwner = t.path + "/alive-owner";
  ASSERT_TRUE(fs::makeDirs(liveOwner));
  Ipam ipam(t.path + "/br-x", *Ipv4Net::parse("10.77.0.0/24"), *Ipv4::parse("10.77.0.1"));
  ASSERT_TRUE(ipam.allocate("live", liveOwner));
  ASSERT_TRUE(ipam.allocate("gone", t.path + "/gone-owner"));
  ASSERT_TRUE(ipam.allocate("unowned", ""));  // unknown owner: kept
  auto released = reclaim(cfg);
  ASSERT_TRUE(released) << released.error().message;
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ((*released)[0].container, "gone");
  auto left = ipam.leases();
  ASSERT_TRUE(left);
  EXPECT_EQ(left->size(), 2u);
}

TEST(NetworkParse, ModesAndPorts) {
  EXPECT_EQ(parseMode("bridge")->mode, Mode::Bridge);
  auto cni = parseMode("cni:mynet");
  ASSERT_TRUE(cni);
  EXPECT_EQ(cni->mode, Mode::Cni);
  EXPECT_EQ(cni->cniNetwork, "mynet");
  auto bad = parseMode("overlay");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unknown network 'overlay': use none, host, bridge or cni:NAME");
  auto p = parsePortMapping("8080:80/udp");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, (PortMapping{8080, 80, "udp"}));
  EXPECT_EQ(parsePortMapping("8080:80")->protocol, "tcp");
  EXPECT_FALSE(parsePortMapping("8080"));
  EXPECT_FALSE(parsePortMapping("70000:80"));
  EXPECT_FALSE(parsePortMapping("80:80/sctp"));
}

TEST(NetworkParse, AttachmentRoundTripsThroughJson) {
  Attachment a;
  a.mode = Mode::Bridge;
  a.containerId = "web";
  a.ifName = "eth0";
  a.ips = {"10.88.0.2/16"};
  a.ports = {{8080, 80, "tcp"}};
  a.bridge = "nucleo0";
  a.hostVeth = "nv0123";
  a.table = "nucleo";
  a.stateDir = "/var/lib/nucleo/network";
  auto back = Attachment::fromJson(a.toJson());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->toJson(), a.toJson());
  EXPECT_EQ(back->ports, a.ports);
  EXPECT_FALSE(Attachment::fromJson("[1]"));
}

TEST(Nft, ScriptsTagRulesAndListingsFindThem) {
  auto script = dnatScript("nucleo", ruleTag("web"), {{"tcp", 8080, *Ipv4::parse("10.88.0.2"), 80}});
  EXPECT_NE(script.find("add rule inet nucleo ports_pre fib daddr type local tcp dport 8080 "
                        "dnat ip to 10.88.0.2:80 comment \"c:web\""),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("ports_out"), std::string::npos);
  EXPECT_EQ(ruleTag(std::string(300, 'x')).size(), 34u);
  std::string listing =
      "table inet nucleo { # handle 1\n"
      "\tchain ports_pre { # handle 4\n"
      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tfib daddr type local tcp dport 8080 dnat ip to 10.88.0.2:80 comment \"c:web\" # handle 6\n"
      "\t\tfib daddr type local tcp dport 8081 dnat ip to 10.88.0.3:80 comment \"c:web2\" # handle 8\n"
      "\t}\n"
      "\tchain ports_out { # handle 5\n"
      "\t\tfib daddr type local tcp dport 8080 dnat ip to 10.88.0.2:80 comment \"c:web\" # handle 7\n"
      "\t}\n}\n";
  auto found = taggedRules(listing, "c:web");
  EXPECT_EQ(found, (std::vector<std::pair<std::string, int>>{{"ports_pre", 6}, {"ports_out", 7}}));
}

TEST(Command, FeedsStdinAndCapturesBothOutputs) {
  auto r = runCommand({"/bin/sh", "-c", "cat; echo err >&2; exit 3"}, std::string(200000, 'a'));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exitCode, 3);
  EXPECT_EQ(r->out.size(), 200000u);
  EXPECT_EQ(r->err, "err\n");
  auto early = runCommand({"/bin/true"}, std::string(1 << 20, 'b'));  // exits without reading
  ASSERT_TRUE(early);
  EXPECT_EQ(early->exitCode, 0);
  auto env = runCommand({"/bin/sh", "-c", "echo $X"}, "", std::vector<std::string>{"X=1"});
  ASSERT_TRUE(env);
  EXPECT_EQ(env->out, "1\n");
  EXPECT_FALSE(runCommand({"/nonexistent/prog"}, ""));
}

}  // namespace
}  // namespace nucleo::network
