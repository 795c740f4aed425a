// `nucleo run|create --network ...` end to end. Each test makes its own
// network namespace to play the host (held by an fd; every command runs in it
// through nsenter), so the bridge, veths, nft table and iptables rules it
// creates never touch the machine's own network, and vanish with the test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "base/fs.hpp"
#include "network/command.hpp"
#include "network/network.hpp"

namespace nucleo::network {
namespace {

namespace json = boost::json;
const std::string NUCLEO = NUCLEO_BIN_DIR "/nucleo";

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, containers)";
    if (!fs::exists("/usr/bin/nsenter") || !fs::exists("/usr/sbin/nft"))
      GTEST_SKIP() << "needs nsenter (util-linux) and nft (nftables)";
    char tmpl[] = "/tmp/nucleo-netit-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    tmp_ = tmpl;
    std::thread t([this] {
      if (::unshare(CLONE_NEWNET) == 0) hostNs_ = ::open("/proc/thread-self/ns/net", O_RDONLY);
    });
    t.join();
    ASSERT_GE(hostNs_, 0);
    ASSERT_EQ(sh("ip link set lo up").exitCode, 0);
  }

  void TearDown() override {
    if (hostNs_ < 0) return;
    for (const auto& id : created_) sh(nucleo("delete --force " + id));
    ::close(hostNs_);
    (void)fs::removeAll(tmp_);
  }

  // Runs a shell command in the test's host namespace.
  CommandResult sh(const std::string& script) {
    std::string ns = fmt::format("--net=/proc/{}/fd/{}", ::getpid(), hostNs_);
    auto r = runCommand({"/usr/bin/nsenter", ns, "--", "/bin/sh", "-c", script}, "");
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : CommandResult{-1, "", ""};
  }

  std::string nucleo(const std::string& args) {
    return fmt::format("{} --root {}/root {}", NUCLEO, tmp_, args);
  }

  // The bridge flags: a test bridge, subnet and nft table, state in tmp.
  std::string bridgeFlags() {
    return fmt::format("--network bridge --bridge ntbr0 --subnet 10.231.0.0/24 --nft-table ntest "
                       "--network-state {}/state", tmp_);
  }

  std::string cniFlags() {
    std::string dir = tmp_ + "/cni";
    std::filesystem::create_directories(dir);
    json::object bridge{{"type", "bridge"}, {"bridge", "ntcni0"}, {"isGateway", true},
                        {"ipMasq", false}};
    bridge["ipam"] = json::object{{"type", "host-local"},
                                  {"ranges", json::array{json::array{json::object{{"subnet", "10.232.0.0/24"}}}}},
                                  {"dataDir", tmp_ + "/cni-ipam"}};
    json::object list{{"cniVersion", "1.0.0"}, {"name", "ntnet"}};
    list["plugins"] = json::array{bridge,
                                  json::object{{"type", "portmap"},
                                               {"capabilities", json::object{{"portMappings", true}}}},
                                  json::object{{"type", "loopback"}}};
    EXPECT_TRUE(fs::writeFileAtomic(dir + "/10-ntnet.conflist", json::serialize(list)));
    return "--network cni:ntnet --cni-config-dir " + dir;
  }

  // A copy of the busybox bundle whose process is `sh -c script`.
  std::string bundle(const std::string& script) {
    std::string dir = fmt::format("{}/bundle{}", tmp_, ++bundles_);
    EXPECT_EQ(runCommand({"/bin/cp", "-a", NUCLEO_TEST_BUNDLE, dir}, "")->exitCode, 0);
    auto text = fs::readFile(dir + "/config.json");
    auto config = json::parse(*text).as_object();
    auto& process = config["process"].as_object();
    process["args"] = json::array{"sh", "-c", script};
    process["terminal"] = false;
    EXPECT_TRUE(fs::writeFileAtomic(dir + "/config.json", json::serialize(config)));
    return dir;
  }

  // nucleo with stdout and stderr in files: a created or detached container
  // keeps them, so reading our pipe to EOF would wait for it to exit.
  CommandResult detached(const std::string& args) {
    std::string out = fmt::format("{}/out{}", tmp_, ++logs_), err = out + ".err";
    auto r = sh(nucleo(args) + fmt::format(" </dev/null >{} 2>{}", out, err));
    r.out = fs::readFile(out).value();
    r.err = fs::readFile(err).value();
    return r;
  }

  // `run -d` of a server container; its id is deleted at tear-down.
  void startServer(const std::string& id, const std::string& flags, const std::string& script) {
    created_.push_back(id);
    auto r = detached(fmt::format("run -d {} -b {} {}", flags, bundle(script), id));
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  // Nothing of the container left: no veth, lease, port claim or DNAT rule.
  void expectNothingLeft(const std::string& id) {
    auto links = sh("ip -o link");
    EXPECT_EQ(links.out.find(" nv"), std::string::npos) << links.out;
    auto leases = sh(fmt::format("ls {0}/state/ntbr0 {0}/state/ports 2>/dev/null", tmp_));
    EXPECT_EQ(leases.out.find("10.231."), std::string::npos) << leases.out;
    EXPECT_EQ(leases.out.find("tcp-"), std::string::npos) << leases.out;
    auto rules = sh("nft list ruleset");
    EXPECT_EQ(rules.out.find("\"c:" + id + "\""), std::string::npos) << rules.out;
  }

  std::string tmp_;
  int hostNs_ = -1;
  int bundles_ = 0, logs_ = 0;
  std::vector<std::string> created_;
};

TEST_F(NetworkTest, ROOT_NoneHasOnlyLoopbackUp) {
  auto r = sh(nucleo(fmt::format("run --network none -b {} c-none",
                                  bundle("cat /proc/net/dev; ip link show lo"))));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("lo:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("eth0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UP"), std::string::npos) << r.out;
}

TEST_F(NetworkTest, ROOT_HostSharesTheHostsLinksAndAnnotationsChooseTheNetwork) {
  ASSERT_EQ(sh("ip link add ntdummy0 type veth peer name ntdummy1").exitCode, 0);
  auto host = sh(nucleo(fmt::format("run --network host -b {} c-host", bundle("cat /proc/net/dev"))));
  ASSERT_EQ(host.exitCode, 0) << host.err;
  EXPECT_NE(host.out.find("ntdummy0"), std::string::npos) << host.out;

  // The bundle's config asks for the bridge (annotation); flags only say which.
  std::string dir = bundle("ip addr");
  auto config = json::parse(*fs::readFile(dir + "/config.json")).as_object();
  config["annotations"] = json::object{{"org.nucleo.network", "bridge"}};
  ASSERT_TRUE(fs::writeFileAtomic(dir + "/config.json", json::serialize(config)));
  std::string flags = bridgeFlags();
  flags.erase(0, std::string("--network bridge ").size());
  auto annotated = sh(nucleo(fmt::format("run {} -b {} c-annot", flags, dir)));
  ASSERT_EQ(annotated.exitCode, 0) << annotated.err;
  EXPECT_NE(annotated.out.find("inet 10.231.0.2/24"), std::string::npos) << annotated.out;
}

TEST_F(NetworkTest, ROOT_BridgedContainersReachEachOtherAndTheHost) {
  startServer("c-a", bridgeFlags() + " --ip 10.231.0.10", "nc -l -p 7000 -e echo reply-from-a");
  auto r = sh(fmt::format(
      "(timeout 10 busybox nc -l -p 7001 -e echo reply-from-host </dev/null >/dev/null 2>&1 &); "
      "sleep 0.2; {}",
      nucleo(fmt::format("run {} -b {} c-b", bridgeFlags(),
                         bundle("nc -w 3 10.231.0.10 7000; nc -w 3 10.231.0.1 7001; ip addr")))));
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("reply-from-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reply-from-host"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inet 10.231.0."), std::string::npos) << r.out;
}

TEST_F(NetworkTest, ROOT_PublishedPortReachesTheContainerFromTheHostsLoopback) {
  startServer("c-pub", bridgeFlags() + " -p 18080:80", "nc -l -p 80 -e echo reply-from-container");
  auto r = sh("for i in 1 2 3 4 5 6 7 8 9 10; do busybox nc -w 2 127.0.0.1 18080 </dev/null && break; sleep 0.1; done");
  EXPECT_NE(r.out.find("reply-from-container"), std::string::npos) << r.out << r.err;
}

TEST_F(NetworkTest, ROOT_DeleteAndFailedCreateLeaveNothingBehind) {
  created_.push_back("c-del");
  auto created = detached((fmt::format("create {} -p 18081:81 -b {} c-del", bridgeFlags(), bundle("sleep 30"))));
  ASSERT_EQ(created.exitCode, 0) << created.err;
  auto before = sh("ip -o link; nft list ruleset");
  EXPECT_NE(before.out.find(" nv"), std::string::npos);
  EXPECT_NE(before.out.find("\"c:c-del\""), std::string::npos);
  // A second container publishing the same port fails after it got an
  // address: the address is given back, its veth is never made.
  auto clash = detached((fmt::format("create {} -p 18081:81 -b {} c-clash", bridgeFlags(), bundle("sleep 30"))));
  EXPECT_NE(clash.exitCode, 0);
  EXPECT_NE(clash.err.find("host port 18081/tcp is already published by container \"c-del\""),
            std::string::npos) << clash.err;
  auto outside = detached((fmt::format("create {} --ip 10.9.9.9 -b {} c-out", bridgeFlags(), bundle("true"))));
  EXPECT_NE(outside.err.find("address 10.9.9.9 is outside subnet 10.231.0.0/24"), std::string::npos)
      << outside.err;
  auto unknown = detached((fmt::format("create --network overlay -b {} c-unk", bundle("true"))));
  EXPECT_NE(unknown.err.find("unknown network 'overlay'"), std::string::npos) << unknown.err;
  // A failure at the last step (the DNAT rules: no such nft table) undoes
  // the veth, the address and the port claim made before it.
  std::string flags = bridgeFlags();
  flags.replace(flags.find("--nft-table ntest"), 17, "--nft-table nosuchtable");
  auto late = detached(fmt::format("create {} -p 18082:82 -b {} c-late", flags, bundle("sleep 30")));
  EXPECT_NE(late.exitCode, 0);
  EXPECT_NE(late.err.find("publish ports: nft:"), std::string::npos) << late.err;
  auto links = sh("ip -o link");
  EXPECT_EQ(links.out.find(" nv", links.out.find(" nv") + 1), std::string::npos) << links.out;  // c-del's only
  EXPECT_EQ(sh(fmt::format("ls {}/state/ports", tmp_)).out, "tcp-18081\n");
  auto list = sh(nucleo("list -q"));
  EXPECT_EQ(list.out, "c-del\n");
  auto leases = sh(fmt::format("ls {}/state/ntbr0", tmp_));
  EXPECT_EQ(leases.out, "10.231.0.2\n");

  ASSERT_EQ(sh(nucleo("delete --force c-del")).exitCode, 0);
  created_.clear();
  expectNothingLeft("c-del");
}

TEST_F(NetworkTest, ROOT_CniPluginsConnectPublishAndCleanUp) {
  if (!fs::exists("/usr/lib/cni/bridge") || !fs::exists("/usr/lib/cni/portmap"))
    GTEST_SKIP() << "needs containernetworking-plugins in /usr/lib/cni";
  std::string flags = cniFlags();
  startServer("c-cni", flags + " -p 18082:80", "nc -l -p 80 -e echo reply-via-cni");
  auto state = fs::readFile(tmp_ + "/root/c-cni/state.json");
  ASSERT_TRUE(state);
  EXPECT_NE(state->find("10.232.0."), std::string::npos) << *state;
  // CNI CHECK of a recorded attachment passes while its container runs
  // (plugins run from a thread in the test's host namespace). Without ports:
  // Debian's portmap 1.1.1 fails CHECK of its own IPv4-only rules ("could not
  // check ipv6 dnat").
  startServer("c-chk", flags, "sleep 30");
  auto chkState = fs::readFile(tmp_ + "/root/c-chk/state.json");
  ASSERT_TRUE(chkState);
  auto record = json::parse(*chkState).as_object();
  auto attachment = Attachment::fromJson(record.at("network").as_string().c_str());
  ASSERT_TRUE(attachment) << attachment.error().message;
  EXPECT_EQ(attachment->ips.size(), 1u);
  std::string netns = fmt::format("/proc/{}/ns/net", record.at("pid").to_number<int>());
  Status checked = Error{0, "not run"};
  std::thread([&] {
    if (::setns(hostNs_, CLONE_NEWNET) == 0) checked = check(*attachment, netns);
  }).join();
  EXPECT_TRUE(checked) << checked.error().message;
  ASSERT_EQ(sh(nucleo("delete --force c-chk")).exitCode, 0);

  auto r = sh("for i in 1 2 3 4 5 6 7 8 9 10; do busybox nc -w 2 127.0.0.1 18082 </dev/null && break; sleep 0.1; done");
  EXPECT_NE(r.out.find("reply-via-cni"), std::string::npos) << r.out << r.err;

  auto toHost = sh(fmt::format(
      "(timeout 10 busybox nc -l -p 7002 -e echo host-via-cni </dev/null >/dev/null 2>&1 &); "
      "sleep 0.2; {}",
      nucleo(fmt::format("run {} -b {} c-cni2", flags, bundle("nc -w 3 10.232.0.1 7002")))));
  EXPECT_NE(toHost.out.find("host-via-cni"), std::string::npos) << toHost.out << toHost.err;

  ASSERT_EQ(sh(nucleo("delete --force c-cni")).exitCode, 0);
  created_.clear();
  auto links = sh("ip -o link | grep -c veth; iptables-save -t nat | grep -c c-cni");
  EXPECT_EQ(links.out, "0\n0\n") << links.out;
  auto ipam = sh(fmt::format("ls {}/cni-ipam/ntnet", tmp_));
  EXPECT_EQ(ipam.out.find("10.232.0."), std::string::npos) << ipam.out;

  auto missing = sh(nucleo(fmt::format("run {} --cni-plugin-dir {}/none -b {} c-miss", flags, tmp_, bundle("true"))));
  EXPECT_NE(missing.err.find("CNI plugin 'bridge' not found"), std::string::npos) << missing.err;
  EXPECT_EQ(sh(nucleo("list -q")).out, "");
}

}  // namespace
}  // namespace nucleo::network
