#pragma once
// The fixture of the containers root tests: a private mount namespace, an
// image store with busybox, a Containers over a temporary work dir, and
// helpers to launch, wait and look at what a container left.
#include <gtest/gtest.h>

#include <algorithm>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "agent/containers/containers.hpp"
#include "agent/containers/host_rootfs.hpp"
#include "agent/containers/tests/launch_helpers.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup.hpp"
#include "linux/net_link.hpp"

namespace nucleo::agent {

using namespace std::chrono_literals;

inline std::string slurp(const std::string& path) {
  auto text = fs::readFile(path);
  return text ? *text : std::string();
}

class ContainersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts, cgroups, namespaces)";
    if (!fs::exists(NUCLEO_BIN) || !fs::exists(NUCLEO_SUPERVISOR_BIN) ||
        !fs::exists(std::string(NUCLEO_TEST_IMAGES) + "/busybox-oci"))
      GTEST_SKIP() << "build targets nucleo, nucleo-supervisor and test-images first";
    // Our overlay mounts vanish with this namespace, whatever happens.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    char tmpl[] = "/tmp/nucleo-containers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    options_.workDir = base_ + "/work";
    options_.runtimeBinary = NUCLEO_BIN;
    options_.supervisorBinary = NUCLEO_SUPERVISOR_BIN;
    options_.imageStoreRoot = base_ + "/images";
    options_.cgroupParent = "/nucleo-agent-test-" + std::to_string(::getpid());
    std::string import = std::string(NUCLEO_BIN) + " image --store " + options_.imageStoreRoot + " import " +
                         NUCLEO_TEST_IMAGES + "/busybox-oci busybox:latest >/dev/null 2>&1";
    ASSERT_EQ(std::system(import.c_str()), 0) << import;
    containers_.emplace(options_);
  }

  void TearDown() override {
    if (!containers_) return;
    for (const auto& id : launched_) EXPECT_TRUE(containers_->destroy(id)) << id;
    for (const auto& pod : pods_) EXPECT_TRUE(containers_->destroyPod(pod)) << pod;
    if (bridged_) {  // the test bridge and nft table: ours alone (names and subnet unique to this test)
      (void)std::system(("ip link del " + options_.bridge.name + " 2>/dev/null").c_str());
      (void)std::system(("nft delete table inet " + options_.bridge.table + " 2>/dev/null").c_str());
    }
    if (auto layout = os::CgroupLayout::detect()) {
      if (auto cg = os::Cgroup::open(*layout, options_.cgroupParent)) (void)cg->destroy();
    }
    auto mounted = hasMountsUnder(base_);
    if (!mounted || *mounted) return ADD_FAILURE() << "mounts left under " << base_ << "; not removed";
    (void)fs::removeAll(base_);
  }

  std::string sandbox(const std::string& id) {
    std::string dir = base_ + "/sandboxes/" + id;
    EXPECT_TRUE(fs::makeDirs(dir));
    return dir;
  }

  ContainerLaunch imageLaunch(const std::string& id, const std::string& shell) {
    ContainerLaunch l;
    l.containerId = id;
    l.sandbox = sandbox(id);
    l.command.set_value(shell);
    mesos::v1::ContainerInfo c;
    c.set_type(mesos::v1::ContainerInfo::MESOS);
    c.mutable_mesos()->mutable_image()->set_type(mesos::v1::Image::DOCKER);
    c.mutable_mesos()->mutable_image()->mutable_docker()->set_name("busybox:latest");
    l.container = c;
    return l;
  }

  Result<pid_t> launch(const ContainerLaunch& l) {
    launched_.push_back(l.containerId);
    return containers_->launch(l);
  }

  // Waits on exitFd() as the agent's event loop would, then reads the exit.
  ContainerExit waitExit(const std::string& id, int timeoutMs = 20000) {
    auto fd = containers_->exitFd(id);
    EXPECT_TRUE(fd) << fd.error().message;
    if (!fd) return {};
    pollfd p{fd->get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, timeoutMs), 1) << "container " << id << " did not exit";
    auto exit = containers_->exitOf(id);
    EXPECT_TRUE(exit && *exit) << (exit ? "still running" : exit.error().message);
    return exit && *exit ? **exit : ContainerExit{};
  }

  std::string containerFile(const std::string& id, const std::string& name) {
    return options_.workDir + "/containers/" + id + "/" + name;
  }

  pid_t supervisorPid(const std::string& id) {
    auto parts = strings::split(slurp(containerFile(id, "supervisor")), ' ');
    return parts.empty() ? 0 : static_cast<pid_t>(strings::toInt(parts[0]).value_or(0));
  }

  // Polls until the file has content (the container got that far).
  bool waitForContent(const std::string& path, int timeoutMs = 10000) {
    for (int waited = 0; waited < timeoutMs; waited += 50) {
      if (!slurp(path).empty()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // A test bridge, subnet and nft table, so a real nucleo0 is never touched.
  bool useTestBridge() {
    if (!fs::exists("/usr/sbin/nft") && !fs::exists("/sbin/nft")) return false;
    options_.bridge.name = "agbr0";
    options_.bridge.subnet = *os::net::Ipv4Net::parse("10.233.0.0/24");
    options_.bridge.table = "agtest";
    options_.bridge.stateDir = base_ + "/netstate";
    containers_.emplace(options_);
    bridged_ = true;
    return true;
  }

  ContainerLaunch bridgedLaunch(const std::string& id, const std::string& shell,
                                std::vector<std::pair<int, int>> ports = {}) {
    auto l = imageLaunch(id, shell);
    auto* info = l.container->add_network_infos();
    info->set_name("bridge");
    for (auto [host, container] : ports) {
      auto* pm = info->add_port_mappings();
      pm->set_host_port(host);
      pm->set_container_port(container);
    }
    return l;
  }

  static std::string sh(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      ::pclose(f);
    }
    return out;
  }

  // Nothing of the container left on the host: veth, lease, port claim, rule.
  // `others`: veths of other containers still on the bridge.
  void expectNoNetworkLeft(const std::string& id, int others = 0) {
    EXPECT_EQ(sh("ip -o link show master " + options_.bridge.name + " 2>/dev/null | wc -l"),
              std::to_string(others) + "\n");
    std::string leases = sh("cat " + options_.bridge.stateDir + "/" + options_.bridge.name + "/* 2>/dev/null");
    EXPECT_EQ(leases.find(id), std::string::npos) << leases;
    std::string ports = sh("cat " + options_.bridge.stateDir + "/ports/* 2>/dev/null");
    EXPECT_EQ(ports.find(id), std::string::npos) << ports;
    std::string rules = sh("nft list table inet " + options_.bridge.table + " 2>/dev/null");
    EXPECT_EQ(rules.find("\"c:" + id + "\""), std::string::npos) << rules;
  }

  bool bridged_ = false;
  std::string base_;
  ContainersOptions options_;
  std::optional<Containers> containers_;
  std::vector<std::string> launched_, pods_;
};

}  // namespace nucleo::agent
