// nucleo-agent end to end: the real nucleo-master and nucleo-agent binaries
// on loopback, a scheduler client in this file (Mesos v1 scheduler API over
// protobuf), tasks run as real containers through nucleo-supervisor and the
// nucleo runtime on the host's filesystem. Root: containers need cgroups and
// namespaces.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "mesos/v1/agent/agent.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "proto/json.hpp"
#include "integration-tests/agent/scheduler_client.hpp"

namespace nucleo::agent {
namespace {

using namespace e2e;
using namespace std::chrono_literals;

class AgentIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: containers use cgroups and namespaces";
    for (const char* bin : {NUCLEO_MASTER_BIN, NUCLEO_AGENT_BIN, NUCLEO_BIN, NUCLEO_SUPERVISOR_BIN})
      if (!fs::exists(bin)) GTEST_SKIP() << bin << " is not built";
    // The containers' mounts live and die with a mount namespace of this
    // test's own, which the master and the agents inherit.
    static bool unshared = false;
    if (!unshared) {
      ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
      ASSERT_EQ(::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
      unshared = true;
    }
    char tmpl[] = "/tmp/nucleo-agent-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    masterPort_ = freePort();
    agentPort_ = freePort();
    master_ = std::make_unique<Process>(
        std::vector<std::string>{NUCLEO_MASTER_BIN, "--port", std::to_string(masterPort_),
                                 "--work-dir", dir_ + "/master", "--heartbeat-interval", "1secs"},
        dir_ + "/master.log");
    startAgent();
    ASSERT_TRUE(agentRegistered(15s)) << agentLog();
  }
  bool agentRegistered(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (metrics().find("nucleo_agent_registered 1") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void TearDown() override {
    // The agent's SHUTDOWN path kills every container it started.
    if (agent_) agent_->kill(SIGKILL);
    if (!dir_.empty()) {
      std::vector<std::string> argv = {NUCLEO_AGENT_BIN, "--master", "127.0.0.1:1", "--work-dir",
                                       dir_ + "/agent", "--recover", "cleanup", "--port", "0",
                                       "--cgroup-parent", cgroupParent()};
      Process cleanup(argv, dir_ + "/cleanup.log");
      std::this_thread::sleep_for(1500ms);  // recovery with cleanup destroys the containers
      cleanup.kill(SIGTERM);
      master_.reset();
      // The test bridge and nft table of the bridged tests: names of ours only.
      (void)std::system("ip link del agitbr0 2>/dev/null; nft delete table inet agit 2>/dev/null");
      for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                            "pids", "unified", ""})
        ::rmdir(fmt::format("/sys/fs/cgroup/{}{}", c, cgroupParent()).c_str());
      if (!HasFailure()) (void)fs::removeAll(dir_);
      else std::fprintf(stderr, "logs kept in %s\n", dir_.c_str());
    }
  }
  void startAgent() {
    agent_ = std::make_unique<Process>(
        std::vector<std::string>{NUCLEO_AGENT_BIN, "--master",
                                 "127.0.0.1:" + std::to_string(masterPort_), "--port",
                                 std::to_string(agentPort_), "--work-dir", dir_ + "/agent",
                                 "--resources", "cpus:4;mem:4096;disk:1000;ports:[31000-31010]",
                                 // Bridged tasks on a test bridge, never a real nucleo0.
                                 "--network-bridge", "agitbr0", "--network-subnet", "10.234.0.0/24",
                                 "--network-table", "agit", "--network-state", dir_ + "/netstate",
                                 "--status-update-retry-min", "500ms",
                                 "--runtime", NUCLEO_BIN, "--supervisor", NUCLEO_SUPERVISOR_BIN,
                                 "--cgroup-parent", cgroupParent(), "--master-ping-timeout", "3secs",
                                 "--verbose"},
        dir_ + "/agent.log");
  }
  // Containers' cgroups go below this one; removed (empty) after the test.
  static std::string cgroupParent() { return fmt::format("/nucleo-agent-it-{}", ::getpid()); }
  std::string agentLog() {
    auto log = fs::readFile(dir_ + "/agent.log");
    return log ? *log : "";
  }
  std::string metrics() { return get(agentPort_, "/metrics").body; }

  std::string dir_;
  uint16_t masterPort_ = 0, agentPort_ = 0;
  std::unique_ptr<Process> master_, agent_;
};

TEST_F(AgentIntegrationTest, ROOT_TaskRunsAndFinishesWithItsExitCode) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  ASSERT_TRUE(scheduler.launch({commandTask("ok", "echo hello; exit 0"),
                                commandTask("bad", "exit 3")}));
  ASSERT_TRUE(scheduler.waitForState("ok", mesos::v1::TASK_FINISHED, 20s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("bad", mesos::v1::TASK_FAILED, 20s)) << agentLog();
  auto ok = scheduler.updatesOf("ok");
  ASSERT_GE(ok.size(), 3u);
  EXPECT_EQ(ok[0].state(), mesos::v1::TASK_STARTING);
  EXPECT_EQ(ok[1].state(), mesos::v1::TASK_RUNNING);
  EXPECT_EQ(scheduler.updatesOf("bad").back().message(), "Command exited with status 3");
  // Every update acknowledged: nothing pending on the agent.
  bool drained = false;
  for (int i = 0; i < 100 && !drained; ++i, std::this_thread::sleep_for(50ms))
    drained = metrics().find("nucleo_agent_status_updates_pending 0") != std::string::npos;
  EXPECT_TRUE(drained) << metrics();
  // The sandbox keeps the output; /files/read serves it by its path.
  std::string agentId = ok.back().agent_id().value();
  std::string stdoutPath = fmt::format("{}/agent/slaves/{}/frameworks/{}/executors/ok/runs/latest/stdout",
                                       dir_, agentId, scheduler.frameworkId());
  auto read = get(agentPort_, "/files/read?path=" + stdoutPath + "&offset=0");
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find("hello"), std::string::npos) << read.body;
  auto browse = get(agentPort_, "/files/browse?path=" + stdoutPath.substr(0, stdoutPath.rfind('/')));
  EXPECT_EQ(browse.status, 200);
  EXPECT_NE(browse.body.find("stdout"), std::string::npos) << browse.body;
  // The operator API's LIST_FILES and READ_FILE, under Mesos's virtual path.
  std::string run = fmt::format("/frameworks/{}/executors/ok/runs/latest", scheduler.frameworkId());
  auto list = post(agentPort_, "/api/v1",
                   fmt::format(R"({{"type":"LIST_FILES","list_files":{{"path":"{}"}}}})", run), "application/json");
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find(run + "/stdout"), std::string::npos) << list.body;
  auto file = post(agentPort_, "/api/v1",
                   fmt::format(R"({{"type":"READ_FILE","read_file":{{"path":"{}/stdout","offset":0}}}})", run),
                   "application/json");
  ASSERT_EQ(file.status, 200) << file.body;
  mesos::v1::agent::Response response;
  ASSERT_TRUE(proto::fromJson(file.body, &response)) << file.body;
  EXPECT_NE(response.read_file().data().find("hello"), std::string::npos) << file.body;
  EXPECT_EQ(response.read_file().size(), response.read_file().data().size());
}

TEST_F(AgentIntegrationTest, ROOT_BridgedTaskReportsItsAddress) {
  if (!fs::exists("/usr/sbin/nft")) GTEST_SKIP() << "needs nft (nftables)";
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  auto task = commandTask("web", "sleep 3");
  auto* container = task.mutable_container();
  container->set_type(mesos::v1::ContainerInfo::MESOS);
  auto* net = container->add_network_infos();
  net->set_name("bridge");
  net->add_port_mappings()->set_host_port(31005);
  net->mutable_port_mappings(0)->set_container_port(80);
  auto* ports = task.add_resources();
  ports->set_name("ports");
  ports->set_type(mesos::v1::Value::RANGES);
  ports->mutable_ranges()->add_range()->set_begin(31005);
  ports->mutable_ranges()->mutable_range(0)->set_end(31005);
  ASSERT_TRUE(scheduler.launch({task}));
  ASSERT_TRUE(scheduler.waitForState("web", mesos::v1::TASK_RUNNING, 20s)) << agentLog();
  auto running = scheduler.updatesOf("web").back();
  ASSERT_EQ(running.container_status().network_infos_size(), 1) << running.DebugString();
  const auto& ip = running.container_status().network_infos(0).ip_addresses(0);
  EXPECT_EQ(ip.protocol(), mesos::v1::NetworkInfo::IPv4);
  EXPECT_TRUE(ip.ip_address().starts_with("10.234.0.")) << ip.ip_address();
  EXPECT_EQ(ip.ip_address().find('/'), std::string::npos) << "no prefix, as Mesos";
  ASSERT_TRUE(scheduler.waitForState("web", mesos::v1::TASK_FINISHED, 20s)) << agentLog();
  // Once the task is gone: its lease and port claim are released.
  std::this_thread::sleep_for(300ms);
  auto leases = fs::readFile(dir_ + "/netstate/agitbr0/" + ip.ip_address());
  EXPECT_FALSE(leases) << "lease of " << ip.ip_address() << " still there";
  EXPECT_FALSE(fs::exists(dir_ + "/netstate/ports/tcp-31005"));
  // A lease whose container vanished while the agent was down is freed when
  // it starts again.
  agent_->kill(SIGKILL);
  std::string ghost = dir_ + "/netstate/agitbr0/10.234.0.99";
  ASSERT_TRUE(fs::writeFileAtomic(ghost, R"({"container":"ghost","owner":"/nonexistent/ghost"})"));
  startAgent();
  ASSERT_TRUE(agentRegistered(15s)) << agentLog();
  EXPECT_FALSE(fs::exists(ghost));
  EXPECT_NE(agentLog().find("network lease freed bridge=agitbr0 address=10.234.0.99 container_id=ghost"),
            std::string::npos) << agentLog();
}

TEST_F(AgentIntegrationTest, ROOT_KilledTaskGetsItsGracePeriod) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  // Traps SIGTERM and takes 1 s to exit: within the 3 s grace, so it is not SIGKILLed.
  auto task = commandTask("slow", "trap 'sleep 1; exit 0' TERM; while true; do sleep 0.1; done");
  ASSERT_TRUE(scheduler.launch({task}));
  ASSERT_TRUE(scheduler.waitForState("slow", mesos::v1::TASK_RUNNING, 20s)) << agentLog();
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(scheduler.kill("slow", 3'000'000'000), 202);
  ASSERT_TRUE(scheduler.waitForState("slow", mesos::v1::TASK_KILLED, 15s)) << agentLog();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(scheduler.waitForState("slow", mesos::v1::TASK_KILLING, 1s));
  EXPECT_GE(took, 900ms);  // it was given time to clean up
  EXPECT_LT(took, 2900ms);  // and not held to the full grace
}

TEST_F(AgentIntegrationTest, ROOT_AgentKilledMidTaskRecoversAndReportsOnce) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  ASSERT_TRUE(scheduler.launch({commandTask("long", "sleep 4; exit 7"),
                                commandTask("short", "sleep 1; exit 0")}));
  ASSERT_TRUE(scheduler.waitForState("long", mesos::v1::TASK_RUNNING, 20s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("short", mesos::v1::TASK_RUNNING, 20s)) << agentLog();
  agent_->kill(SIGKILL);
  std::this_thread::sleep_for(2500ms);  // "short" ends while the agent is down
  EXPECT_EQ(scheduler.terminalCount("short"), 0u);
  startAgent();
  ASSERT_TRUE(scheduler.waitForState("short", mesos::v1::TASK_FINISHED, 20s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("long", mesos::v1::TASK_FAILED, 20s)) << agentLog();
  EXPECT_EQ(scheduler.updatesOf("long").back().message(), "Command exited with status 7");
  std::this_thread::sleep_for(1500ms);  // resends would have come by now
  EXPECT_EQ(scheduler.terminalCount("long"), 1u);
  EXPECT_EQ(scheduler.terminalCount("short"), 1u);
  for (const auto& s : scheduler.updatesOf("long"))
    EXPECT_NE(s.state(), mesos::v1::TASK_LOST) << s.message();
}

TEST_F(AgentIntegrationTest, ROOT_TaskGroupRunsAsAPod) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  mesos::v1::ExecutorInfo executor;
  executor.set_type(mesos::v1::ExecutorInfo::DEFAULT);
  executor.mutable_executor_id()->set_value("pod-1");
  auto* cpus = executor.add_resources();
  cpus->set_name("cpus");
  cpus->set_type(mesos::v1::Value::SCALAR);
  cpus->mutable_scalar()->set_value(0.1);
  ASSERT_TRUE(scheduler.launchGroup(executor, {commandTask("a", "hostname > out; exit 0"),
                                               commandTask("b", "sleep 0.5")}));
  ASSERT_TRUE(scheduler.waitForState("a", mesos::v1::TASK_FINISHED, 20s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("b", mesos::v1::TASK_FINISHED, 20s)) << agentLog();
}

TEST_F(AgentIntegrationTest, ROOT_CustomExecutorSpeaksTheExecutorApi) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  auto task = commandTask("via-executor", "");
  task.clear_command();
  task.set_data("0.3");
  auto* executor = task.mutable_executor();
  executor->mutable_executor_id()->set_value("test-executor");
  executor->mutable_framework_id()->set_value(scheduler.frameworkId());
  executor->mutable_command()->set_value(NUCLEO_TEST_EXECUTOR_BIN);
  ASSERT_TRUE(scheduler.launch({task}));
  ASSERT_TRUE(scheduler.waitForState("via-executor", mesos::v1::TASK_FINISHED, 30s)) << agentLog();
  auto updates = scheduler.updatesOf("via-executor");
  EXPECT_EQ(updates.back().message(), "done by the test executor");
  EXPECT_EQ(updates.back().source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
}

TEST_F(AgentIntegrationTest, ROOT_CustomExecutorRunsATaskGroup) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  mesos::v1::ExecutorInfo executor;
  executor.set_type(mesos::v1::ExecutorInfo::CUSTOM);
  executor.mutable_executor_id()->set_value("group-executor");
  executor.mutable_command()->set_value(NUCLEO_TEST_EXECUTOR_BIN);
  auto first = commandTask("g1", "ignored by the executor");
  first.set_data("0.3");
  ASSERT_TRUE(scheduler.launchGroup(executor, {first, commandTask("g2", "ignored")}));
  ASSERT_TRUE(scheduler.waitForState("g1", mesos::v1::TASK_FINISHED, 30s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("g2", mesos::v1::TASK_FINISHED, 30s)) << agentLog();
  for (const char* id : {"g1", "g2"}) {
    auto updates = scheduler.updatesOf(id);
    EXPECT_EQ(updates.back().message(), "done by the test executor");
    EXPECT_EQ(updates.back().source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
    EXPECT_EQ(updates.back().executor_id().value(), "group-executor");
  }
  // Both came in one LAUNCH_GROUP to one executor: its stdout says so once.
  auto out = fs::readFile(fmt::format("{}/agent/slaves/{}/frameworks/{}/executors/group-executor/runs/latest/stdout",
                                      dir_, scheduler.updatesOf("g1").back().agent_id().value(),
                                      scheduler.frameworkId()));
  ASSERT_TRUE(out);
  EXPECT_NE(out->find("launch group of 2 tasks"), std::string::npos) << *out;
}

TEST_F(AgentIntegrationTest, ROOT_SdkExecutorWithoutGroupSupportAnswersTaskError) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  mesos::v1::ExecutorInfo executor;
  executor.set_type(mesos::v1::ExecutorInfo::CUSTOM);
  executor.mutable_executor_id()->set_value("sdk-executor");
  executor.mutable_command()->set_value(NUCLEO_TEST_SDK_EXECUTOR_BIN);
  ASSERT_TRUE(scheduler.launchGroup(executor, {commandTask("s1", "true"), commandTask("s2", "true")}));
  for (const char* id : {"s1", "s2"}) {
    ASSERT_TRUE(scheduler.waitForState(id, mesos::v1::TASK_ERROR, 30s)) << agentLog();
    auto last = scheduler.updatesOf(id).back();
    EXPECT_EQ(last.message(), "this executor does not run task groups");
    EXPECT_EQ(last.source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  }
}

TEST_F(AgentIntegrationTest, ROOT_CustomExecutorSurvivesAnAgentRestart) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  auto task = commandTask("long-exec", "");
  task.clear_command();
  task.set_data("4");  // the executor finishes the task 4 s after RUNNING
  auto* executor = task.mutable_executor();
  executor->mutable_executor_id()->set_value("resubscriber");
  executor->mutable_framework_id()->set_value(scheduler.frameworkId());
  executor->mutable_command()->set_value(NUCLEO_TEST_EXECUTOR_BIN);
  ASSERT_TRUE(scheduler.launch({task}));
  ASSERT_TRUE(scheduler.waitForState("long-exec", mesos::v1::TASK_RUNNING, 30s)) << agentLog();
  agent_->kill(SIGKILL);
  std::this_thread::sleep_for(1s);
  startAgent();
  ASSERT_TRUE(scheduler.waitForState("long-exec", mesos::v1::TASK_FINISHED, 30s)) << agentLog();
  EXPECT_EQ(scheduler.updatesOf("long-exec").back().message(), "done by the test executor");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(scheduler.terminalCount("long-exec"), 1u);
  // The executor got its acknowledgement and exited: nothing left running.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i, std::this_thread::sleep_for(100ms))
    gone = metrics().find("nucleo_agent_containers 0") != std::string::npos;
  EXPECT_TRUE(gone) << metrics();
}

// The host pids of processes running `exe` (this build's binary, so not
// another worktree's test).
std::vector<pid_t> processesOf(const std::string& exe) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    char buf[4096];
    ssize_t n = ::readlink((entry.path() / "exe").c_str(), buf, sizeof(buf) - 1);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == exe) pids.push_back(std::stoi(name));
  }
  return pids;
}

TEST_F(AgentIntegrationTest, ROOT_ExecutorThatDoesNotResubscribeAfterARestartIsKilled) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  auto before = processesOf(NUCLEO_TEST_EXECUTOR_BIN);
  auto task = commandTask("stuck", "");
  task.clear_command();
  task.set_data("60");
  auto* executor = task.mutable_executor();
  executor->mutable_executor_id()->set_value("frozen");
  executor->mutable_command()->set_value(NUCLEO_TEST_EXECUTOR_BIN);
  ASSERT_TRUE(scheduler.launch({task}));
  ASSERT_TRUE(scheduler.waitForState("stuck", mesos::v1::TASK_RUNNING, 30s)) << agentLog();
  std::vector<pid_t> ours;
  for (pid_t p : processesOf(NUCLEO_TEST_EXECUTOR_BIN))
    if (std::find(before.begin(), before.end(), p) == before.end()) ours.push_back(p);
  ASSERT_EQ(ours.size(), 1u);
  agent_->kill(SIGKILL);
  ::kill(ours[0], SIGSTOP);  // it cannot re-subscribe
  auto restarted = std::chrono::steady_clock::now();
  startAgent();
  ASSERT_TRUE(scheduler.waitForState("stuck", mesos::v1::TASK_FAILED, 20s)) << agentLog();
  auto took = std::chrono::steady_clock::now() - restarted;
  auto last = scheduler.updatesOf("stuck").back();
  EXPECT_EQ(last.reason(), mesos::v1::TaskStatus::REASON_EXECUTOR_REREGISTRATION_TIMEOUT)
      << last.DebugString();
  EXPECT_GE(took, 2s);  // the default --executor-reregistration-timeout
  EXPECT_LT(took, 10s);  // not the 1 min registration timeout
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i, std::this_thread::sleep_for(100ms))
    gone = ::kill(ours[0], 0) != 0;
  EXPECT_TRUE(gone) << "executor pid " << ours[0] << " still there";
}

TEST_F(AgentIntegrationTest, ROOT_SilentMasterIsLostAndTheAgentRegistersAgain) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  ASSERT_TRUE(scheduler.launch({commandTask("steady", "sleep 30")}));
  ASSERT_TRUE(scheduler.waitForState("steady", mesos::v1::TASK_RUNNING, 20s)) << agentLog();
  master_->signal(SIGSTOP);  // no PING, no answers: the agent gives it up after 3 s
  bool lost = false;
  for (int i = 0; i < 100 && !lost; ++i, std::this_thread::sleep_for(100ms))
    lost = metrics().find("nucleo_agent_registered 0") != std::string::npos;
  master_->signal(SIGCONT);
  EXPECT_TRUE(lost) << agentLog();
  EXPECT_TRUE(agentRegistered(20s)) << agentLog();
  // The task ran on undisturbed and is still the master's.
  std::string tasks = post(agentPort_, "/api/v1", R"({"type":"GET_TASKS"})", "application/json").body;
  EXPECT_NE(tasks.find("TASK_RUNNING"), std::string::npos) << tasks;
  EXPECT_EQ(scheduler.terminalCount("steady"), 0u);
}

TEST_F(AgentIntegrationTest, ROOT_BadInputIsAnsweredNotFatal) {
  Scheduler scheduler(masterPort_);
  ASSERT_TRUE(scheduler.subscribe());
  auto noCommand = commandTask("empty", "");
  noCommand.mutable_command()->clear_value();
  auto badImage = commandTask("image", "true");
  badImage.mutable_container()->set_type(mesos::v1::ContainerInfo::MESOS);
  badImage.mutable_container()->mutable_mesos()->mutable_image()->set_type(mesos::v1::Image::DOCKER);
  badImage.mutable_container()->mutable_mesos()->mutable_image()->mutable_docker()->set_name(
      "no-such-image:latest");
  ASSERT_TRUE(scheduler.launch({noCommand, badImage}));
  ASSERT_TRUE(scheduler.waitForState("empty", mesos::v1::TASK_ERROR, 20s)) << agentLog();
  ASSERT_TRUE(scheduler.waitForState("image", mesos::v1::TASK_FAILED, 20s)) << agentLog();
  EXPECT_NE(scheduler.updatesOf("image").back().message(), "");
  // Garbage on the agent's endpoints is refused; the agent keeps serving.
  EXPECT_EQ(post(agentPort_, "/api/v1/executor", "{not json", "application/json").status, 400);
  EXPECT_EQ(post(agentPort_, "/api/v1", "\xff\xff", kProtobuf).status, 400);
  EXPECT_EQ(post(agentPort_, "/api/v1/executor", "{}", "text/plain").status, 415);
  auto unknown = post(agentPort_, "/api/v1/executor",
                      R"({"type":"SUBSCRIBE","framework_id":{"value":"nope"},)"
                      R"("executor_id":{"value":"nope"},"subscribe":{}})", "application/json");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("Framework cannot be found"), std::string::npos) << unknown.body;
  EXPECT_EQ(post(agentPort_, "/api/v1", R"({"type":"LAUNCH_CONTAINER"})", "application/json").status,
            501);
  EXPECT_EQ(get(agentPort_, "/files/read?path=/etc/passwd").status, 404);
  EXPECT_EQ(get(agentPort_, "/health").status, 200);
}

}  // namespace
}  // namespace nucleo::agent
