// Containers run for real: busybox image containers, host-filesystem ones,
// pods, kills, OOM, log rotation, an agent SIGKILLed and recovered. Root only.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "agent/containers/containers.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::agent {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
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
    if (auto layout = os::CgroupLayout::detect()) {
      if (auto cg = os::Cgroup::open(*layout, options_.cgroupParent)) (void)cg->destroy();
    }
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

  std::string base_;
  ContainersOptions options_;
  std::optional<Containers> containers_;
  std::vector<std::string> launched_, pods_;
};

TEST_F(ContainersTest, ROOT_EchoFromImageGoesToSandboxStdout) {
  auto l = imageLaunch("echo", "echo hi; echo oops >&2; echo $MESOS_SANDBOX; pwd");
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_GT(*pid, 0);
  auto exit = waitExit("echo");
  EXPECT_TRUE(WIFEXITED(exit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0);
  EXPECT_FALSE(exit.oomKilled);
  EXPECT_FALSE(exit.killedByRequest);
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "hi\n/mnt/mesos/sandbox\n/mnt/mesos/sandbox\n");
  EXPECT_EQ(slurp(l.sandbox + "/stderr"), "oops\n");
}

TEST_F(ContainersTest, ROOT_FailingCommandReportsItsExitCode) {
  auto l = imageLaunch("fail", "exit 7");
  ASSERT_TRUE(launch(l));
  auto exit = waitExit("fail");
  ASSERT_TRUE(WIFEXITED(exit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 7);
}

TEST_F(ContainersTest, ROOT_KillWithGraceTermThenKill) {
  auto trap = imageLaunch("trap", "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done");
  auto stubborn = imageLaunch("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.1; done");
  ASSERT_TRUE(launch(trap));
  ASSERT_TRUE(launch(stubborn));
  for (int i = 0; i < 100 && (slurp(trap.sandbox + "/stdout").empty() || slurp(stubborn.sandbox + "/stdout").empty()); ++i)
    std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(containers_->kill("trap", 5000ms));
  ASSERT_TRUE(containers_->kill("stubborn", 700ms));
  auto trapExit = waitExit("trap");
  EXPECT_TRUE(WIFEXITED(trapExit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(trapExit.waitStatus), 3);
  EXPECT_TRUE(trapExit.killedByRequest);
  EXPECT_EQ(slurp(trap.sandbox + "/stdout"), "ready\ngot-term\n");
  auto stubbornExit = waitExit("stubborn");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(WIFSIGNALED(stubbornExit.waitStatus));
  EXPECT_EQ(WTERMSIG(stubbornExit.waitStatus), SIGKILL);
  EXPECT_TRUE(stubbornExit.killedByRequest);
  EXPECT_GE(took, 600ms) << "SIGKILL only after the grace period";
  EXPECT_LT(took, 5000ms);
}

TEST_F(ContainersTest, ROOT_FailedLaunchLeavesNothingBehind) {
  auto unknownImage = imageLaunch("noimage", "true");
  unknownImage.container->mutable_mesos()->mutable_image()->mutable_docker()->set_name("127.0.0.1:1/none:latest");
  auto r1 = launch(unknownImage);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("none:latest"), std::string::npos) << r1.error().message;

  auto badUser = imageLaunch("baduser", "true");
  badUser.command.set_user("nosuchuser");
  auto r2 = launch(badUser);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("nosuchuser"), std::string::npos) << r2.error().message;

  auto badPath = imageLaunch("badpath", "");
  badPath.command.set_shell(false);
  badPath.command.set_value("/no/such/program");
  auto r3 = launch(badPath);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("/no/such/program"), std::string::npos) << r3.error().message;

  for (const char* id : {"noimage", "baduser", "badpath"}) {
    EXPECT_FALSE(fs::exists(options_.workDir + "/containers/" + id)) << id;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory" + options_.cgroupParent + "/" + id)) << id;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids" + options_.cgroupParent + "/" + id)) << id;
  }
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + options_.imageStoreRoot + "/containers 2>/dev/null)\"").c_str()), 0)
      << "no overlay left";
  EXPECT_NE(std::system("pgrep -f '[n]ucleo-supervisor container .*badpath' >/dev/null"), 0) << "no supervisor left";
}

}  // namespace
}  // namespace nucleo::agent
