// End to end across the real binaries on loopback (issue 8): nucleo-master,
// nucleo-agent running containers from the busybox image, frameworks written
// with the SDK, nucleo-execute and nucleo cluster. Root: containers need
// namespaces and cgroups.

#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "integration-tests/cluster/cluster.hpp"
#include "mesos/v1/master/master.pb.h"
#include "sdk/http_client.hpp"
#include "sdk/resources.hpp"

namespace nucleo::e2e {
namespace {

using mesos::v1::TaskState;

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: containers use namespaces and cgroups";
    std::string failure = enterPrivateMountNamespace();
    ASSERT_TRUE(failure.empty()) << failure;
  }

  void startCluster(ClusterOptions options = {}) {
    cluster_ = std::make_unique<Cluster>(std::move(options));
    std::string failure = cluster_->start();
    ASSERT_TRUE(failure.empty()) << failure;
  }

  bool updatesDrained() {
    return Framework().waitUntil(
        [&] {
          return cluster_->agentMetrics().find("nucleo_agent_status_updates_pending 0") !=
                 std::string::npos;
        },
        10s);
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(ClusterTest, ROOT_TasksAndAGroupFromAnImageReachTheirEnds) {
  startCluster();
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "e2e"));
  framework.queue({{commandTask("ok", "echo hi from $(hostname); exit 0"),
                    commandTask("fails", "exit 3"),
                    commandTask("sleeps", "sleep 600"),
                    commandTask("hog", "head -c 300m /dev/zero | tail > /dev/null", 0.1, 64)},
                   {}, {}});
  mesos::v1::ExecutorInfo executor;
  executor.set_type(mesos::v1::ExecutorInfo::DEFAULT);
  executor.mutable_executor_id()->set_value("pod-executor");
  *executor.add_resources() = sdk::scalar("cpus", 0.1);
  *executor.add_resources() = sdk::scalar("mem", 32);
  mesos::v1::TaskGroupInfo group;
  *group.add_tasks() = commandTask("pod-a", "hostname > /dev/null; exit 0");
  *group.add_tasks() = commandTask("pod-b", "exit 0");
  framework.queue({{}, executor, group});

  EXPECT_TRUE(framework.waitFor("ok", mesos::v1::TASK_FINISHED)) << cluster_->logs();
  EXPECT_TRUE(framework.waitFor("fails", mesos::v1::TASK_FAILED)) << cluster_->logs();
  auto failed = framework.last("fails");
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->message().find("3"), std::string::npos) << failed->message();
  EXPECT_TRUE(framework.waitFor("hog", mesos::v1::TASK_FAILED)) << cluster_->logs();
  auto hog = framework.last("hog");
  ASSERT_TRUE(hog);
  EXPECT_EQ(hog->reason(), mesos::v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY)
      << hog->message();
  EXPECT_TRUE(framework.waitFor("pod-a", mesos::v1::TASK_FINISHED)) << cluster_->logs();
  EXPECT_TRUE(framework.waitFor("pod-b", mesos::v1::TASK_FINISHED)) << cluster_->logs();

  ASSERT_TRUE(framework.waitFor("sleeps", mesos::v1::TASK_RUNNING)) << cluster_->logs();
  mesos::v1::TaskID sleeps;
  sleeps.set_value("sleeps");
  driver.driver().kill(sleeps);
  EXPECT_TRUE(framework.waitFor("sleeps", mesos::v1::TASK_KILLED)) << cluster_->logs();

  // Every update carried a uuid and was acknowledged: none left on the agent.
  EXPECT_TRUE(updatesDrained()) << cluster_->agentMetrics();
  for (const auto& status : framework.updates("ok")) EXPECT_EQ(status.uuid().size(), 16u);
}

TEST_F(ClusterTest, ROOT_AnExecutorWrittenWithTheSdkRunsTasks) {
  startCluster();
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "custom-executor"));
  mesos::v1::ExecutorInfo executor;
  executor.set_type(mesos::v1::ExecutorInfo::CUSTOM);
  executor.mutable_executor_id()->set_value("sdk-executor");
  executor.mutable_command()->set_value(NUCLEO_EXAMPLE_EXECUTOR_BIN);
  *executor.add_resources() = sdk::scalar("cpus", 0.1);
  *executor.add_resources() = sdk::scalar("mem", 64);
  auto good = commandTask("by-executor", "exit 0", 0.1, 32, false);
  auto bad = commandTask("by-executor-fails", "exit 2", 0.1, 32, false);
  // A task for a custom executor has an ExecutorInfo and no CommandInfo; this
  // executor runs the task's data.
  for (auto* task : {&good, &bad}) {
    task->set_data(task->command().value());
    task->clear_command();
    *task->mutable_executor() = executor;
  }
  framework.queue({{good, bad}, {}, {}});
  EXPECT_TRUE(framework.waitFor("by-executor", mesos::v1::TASK_FINISHED)) << cluster_->logs();
  EXPECT_TRUE(framework.waitFor("by-executor-fails", mesos::v1::TASK_FAILED)) << cluster_->logs();
  auto failed = framework.last("by-executor-fails");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  EXPECT_NE(failed->message().find("status 2"), std::string::npos) << failed->message();
  EXPECT_TRUE(updatesDrained()) << cluster_->agentMetrics();
}

TEST_F(ClusterTest, ROOT_CommandHealthChecksRunInsideTheTasksContainer) {
  startCluster();
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "health"));
  // The marker exists only in the container's own root filesystem: a probe on
  // the host would fail.
  auto task = commandTask("checked", "touch /nucleo-health-marker; sleep 600");
  auto* check = task.mutable_health_check();
  check->set_type(mesos::v1::HealthCheck::COMMAND);
  check->mutable_command()->set_value("test -f /nucleo-health-marker");
  check->set_delay_seconds(0.5);
  check->set_interval_seconds(0.5);
  check->set_grace_period_seconds(10);
  check->set_timeout_seconds(10);
  framework.queue({{task}, {}, {}});
  auto healthy = [&] {
    for (const auto& status : framework.updates("checked"))
      if (status.has_healthy() && status.healthy()) return true;
    return false;
  };
  EXPECT_TRUE(framework.waitUntil(healthy, 30s)) << "no healthy update" << cluster_->logs();
}

TEST_F(ClusterTest, ROOT_ExplicitAndImplicitReconciliation) {
  startCluster();
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "reconcile"));
  framework.queue({{commandTask("long", "sleep 600")}, {}, {}});
  ASSERT_TRUE(framework.waitFor("long", mesos::v1::TASK_RUNNING)) << cluster_->logs();
  auto reconciled = [&] {
    for (const auto& status : framework.updates("long"))
      if (status.reason() == mesos::v1::TaskStatus::REASON_RECONCILIATION &&
          status.state() == mesos::v1::TASK_RUNNING)
        return true;
    return false;
  };
  mesos::v1::TaskStatus explicitTask;
  explicitTask.mutable_task_id()->set_value("long");
  driver.driver().reconcile({explicitTask});
  EXPECT_TRUE(framework.waitUntil(reconciled, 10s)) << "explicit reconciliation gave no RUNNING";
  size_t before = framework.updates("long").size();
  driver.driver().reconcile();
  EXPECT_TRUE(framework.waitUntil([&] { return framework.updates("long").size() > before; }, 10s))
      << "implicit reconciliation gave nothing";
  EXPECT_EQ(framework.last("long")->state(), mesos::v1::TASK_RUNNING);
  EXPECT_FALSE(framework.last("long")->has_uuid()) << "reconciliation updates carry no uuid";
}

TEST_F(ClusterTest, ROOT_FrameworkFailoverKeepsTasksUntilTheTimeout) {
  startCluster();
  auto options = frameworkOptions(cluster_->masterAddress(), "failover", /*failover timeout*/ 4);
  std::string id;
  {
    Framework first;
    RunningDriver driver(first, options);
    first.queue({{commandTask("kept", "sleep 600")}, {}, {}});
    ASSERT_TRUE(first.waitFor("kept", mesos::v1::TASK_RUNNING)) << cluster_->logs();
    id = first.frameworkId();
  }  // the scheduler goes away without tearing its framework down
  options.framework.mutable_id()->set_value(id);
  {
    Framework second;
    RunningDriver driver(second, options);
    ASSERT_TRUE(second.waitUntil([&] { return second.subscriptions() == 1; }, 10s));
    EXPECT_EQ(second.frameworkId(), id) << "the new scheduler did not get its framework back";
    mesos::v1::TaskStatus task;
    task.mutable_task_id()->set_value("kept");
    driver.driver().reconcile({task});
    EXPECT_TRUE(second.waitFor("kept", mesos::v1::TASK_RUNNING, 10s))
        << "the task did not survive the failover";
  }
  // Gone for longer than failover_timeout: the master removes the framework
  // and the agent kills its tasks.
  EXPECT_TRUE(Framework().waitUntil(
      [&] { return cluster_->agentMetrics().find("nucleo_agent_containers 0") != std::string::npos; },
      20s))
      << "the task's container still runs after the failover timeout: " << cluster_->agentMetrics();
  auto tasks = sdk::httpRequest(cluster_->masterAddress(), "POST", "/api/v1",
                                {{"Content-Type", "application/x-protobuf"},
                                 {"Accept", "application/x-protobuf"}},
                                [] {
                                  mesos::v1::master::Call call;
                                  call.set_type(mesos::v1::master::Call::GET_TASKS);
                                  return call.SerializeAsString();
                                }(),
                                5s);
  ASSERT_TRUE(tasks);
  mesos::v1::master::Response response;
  ASSERT_TRUE(response.ParseFromString(tasks->body));
  EXPECT_EQ(response.get_tasks().tasks_size(), 0) << "the framework's tasks are still active";
  bool killed = false;
  for (const auto& task : response.get_tasks().completed_tasks())
    killed = killed || (task.task_id().value() == "kept" && task.state() == mesos::v1::TASK_KILLED);
  EXPECT_TRUE(killed) << response.DebugString();
}

TEST_F(ClusterTest, ROOT_MasterRestartLosesNoTask) {
  startCluster();
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "restart", 60));
  framework.queue({{commandTask("survivor", "sleep 6; exit 0")}, {}, {}});
  ASSERT_TRUE(framework.waitFor("survivor", mesos::v1::TASK_RUNNING)) << cluster_->logs();
  cluster_->killMaster(SIGKILL);
  cluster_->startMaster();
  EXPECT_TRUE(framework.waitUntil([&] { return framework.subscriptions() == 2; }, 20s))
      << "the framework did not re-subscribe" << cluster_->logs();
  EXPECT_TRUE(framework.waitFor("survivor", mesos::v1::TASK_FINISHED, 30s)) << cluster_->logs();
}

TEST_F(ClusterTest, ROOT_WithCredentialsAgentsAndFrameworksAuthenticate) {
  char dir[] = "/tmp/nucleo-credentials-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string credentials = std::string(dir) + "/credentials.json";
  std::string agentCredential = std::string(dir) + "/agent.json";
  ASSERT_TRUE(fs::writeFileAtomic(credentials,
                                  R"({"credentials":[{"principal":"agent","secret":"a-secret"},)"
                                  R"({"principal":"framework","secret":"f-secret"}]})",
                                  0600, fs::Durability::Volatile));
  ASSERT_TRUE(fs::writeFileAtomic(agentCredential, R"({"principal":"agent","secret":"a-secret"})", 0600,
                                  fs::Durability::Volatile));
  ClusterOptions options;
  options.masterFlags = {"--credentials", credentials};
  options.agentFlags = {"--credential", agentCredential};
  startCluster(options);
  Framework framework;
  auto schedulerOptions = frameworkOptions(cluster_->masterAddress(), "authenticated");
  schedulerOptions.framework.set_principal("framework");
  schedulerOptions.credential = sdk::Credential{"framework", "f-secret"};
  RunningDriver driver(framework, schedulerOptions);
  framework.queue({{commandTask("authenticated", "exit 0")}, {}, {}});
  EXPECT_TRUE(framework.waitFor("authenticated", mesos::v1::TASK_FINISHED)) << cluster_->logs();
  auto anonymous = sdk::httpRequest(cluster_->masterAddress(), "POST", "/api/v1",
                                    {{"Content-Type", "application/json"}}, R"({"type":"GET_TASKS"})", 5s);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->head.status, 401);
  (void)fs::removeAll(dir);
}

// Runs `command` through the shell; true when it exits 0.
bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// The agent in a network namespace of the test's own, joined to the host's by
// a veth pair the test makes; taking the host end down cuts the agent off.
class CutOffAgentTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped()) return;
    if (!sh("command -v ip >/dev/null")) GTEST_SKIP() << "needs ip(8) from iproute2 to set up the test's namespace";
    netns_ = "nucleo-cut-" + std::to_string(::getpid());
    hostEnd_ = "ncut" + std::to_string(::getpid() % 100000) + "h";
    agentEnd_ = "ncut" + std::to_string(::getpid() % 100000) + "a";
    ASSERT_TRUE(sh("ip netns add " + netns_));
    ASSERT_TRUE(sh("ip link add " + hostEnd_ + " type veth peer name " + agentEnd_ + " netns " + netns_));
    ASSERT_TRUE(sh("ip addr add 10.254.77.1/30 dev " + hostEnd_ + " && ip link set " + hostEnd_ + " up"));
    ASSERT_TRUE(sh("ip -n " + netns_ + " addr add 10.254.77.2/30 dev " + agentEnd_ + " && ip -n " + netns_ +
                   " link set " + agentEnd_ + " up && ip -n " + netns_ + " link set lo up"));
  }
  void TearDown() override {
    cluster_.reset();
    if (!netns_.empty()) {
      (void)sh("ip link del " + hostEnd_ + " 2>/dev/null");
      (void)sh("ip netns del " + netns_ + " 2>/dev/null");
    }
  }
  std::string netns_, hostEnd_, agentEnd_;
};

TEST_F(CutOffAgentTest, ROOT_UnreachableThenReconciledWhenTheLinkComesBack) {
  ClusterOptions options;
  options.agentNetns = netns_;
  options.masterIp = "10.254.77.1";
  options.agentIp = "10.254.77.2";
  options.masterFlags = {"--agent-ping-timeout", "1secs", "--max-agent-ping-timeouts", "2"};
  startCluster(options);
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "partition", 120));
  framework.queue({{commandTask("cut", "sleep 600", 0.1, 64, false)}, {}, {}});
  ASSERT_TRUE(framework.waitFor("cut", mesos::v1::TASK_RUNNING)) << cluster_->logs();
  size_t before = framework.updates("cut").size();

  ASSERT_TRUE(sh("ip link set " + hostEnd_ + " down"));
  EXPECT_TRUE(framework.waitFor("cut", mesos::v1::TASK_UNREACHABLE, 20s))
      << "the master did not report the cut-off agent's task" << cluster_->logs();

  ASSERT_TRUE(sh("ip link set " + hostEnd_ + " up"));
  auto runningAgain = [&] {
    auto updates = framework.updates("cut");
    for (size_t i = before; i < updates.size(); ++i)
      if (updates[i].state() == mesos::v1::TASK_UNREACHABLE)
        for (size_t j = i + 1; j < updates.size(); ++j)
          if (updates[j].state() == mesos::v1::TASK_RUNNING) return true;
    return false;
  };
  EXPECT_TRUE(framework.waitUntil(runningAgain, 40s))
      << "the task was not reconciled as RUNNING after the link came back" << cluster_->logs();
}

TEST_F(ClusterTest, ROOT_TwoFrameworksGetDrfShares) {
  startCluster();
  // Dominant shares: A's tasks take 1/4 of the cpus, B's 1/4 of the memory.
  // DRF gives each framework three tasks; a first-come order would not.
  // One task per offer and no decline filter: every allocation goes to the
  // framework with the lower dominant share.
  Framework a, b;
  for (Framework* f : {&a, &b}) {
    f->declineRefuseSeconds = 0;
    f->maxLaunchesPerOffer = 1;
  }
  for (int i = 0; i < 4; ++i) {
    a.queue({{commandTask("a" + std::to_string(i), "sleep 600", 1, 128, false)}, {}, {}});
    b.queue({{commandTask("b" + std::to_string(i), "sleep 600", 0.25, 1024, false)}, {}, {}});
  }
  RunningDriver driverA(a, frameworkOptions(cluster_->masterAddress(), "drf-a"));
  RunningDriver driverB(b, frameworkOptions(cluster_->masterAddress(), "drf-b"));
  auto running = [](Framework& f, char prefix) {
    int count = 0;
    for (int i = 0; i < 4; ++i)
      if (f.waitFor(std::string(1, prefix) + std::to_string(i), mesos::v1::TASK_RUNNING, 0ms)) ++count;
    return count;
  };
  a.waitUntil([&] { return running(a, 'a') + running(b, 'b') >= 6; }, 30s);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(running(a, 'a'), 3) << cluster_->logs();
  EXPECT_EQ(running(b, 'b'), 3) << cluster_->logs();
}

TEST_F(ClusterTest, ROOT_NucleoExecuteStreamsOutputAndExitsWithTheTaskCode) {
  startCluster();
  std::string out = cluster_->dir() + "/execute.out";
  Child execute({NUCLEO_EXECUTE_BIN, "--master", cluster_->masterAddress(), "--name", "hello",
                 "--image", "busybox:latest", "--command", "echo out-line; echo err-line >&2; exit 4"},
                out);
  int status = execute.wait(60s);
  ASSERT_NE(status, -1) << "nucleo-execute did not finish";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
  auto text = fs::readFile(out);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("out-line"), std::string::npos) << *text;
  EXPECT_NE(text->find("err-line"), std::string::npos) << *text;
  EXPECT_NE(text->find("TASK_RUNNING"), std::string::npos) << *text;
  EXPECT_NE(text->find("TASK_FAILED"), std::string::npos) << *text;

  // `nucleo cluster logs` finds the ended task through the master and reads
  // its sandbox through the agent.
  auto at = text->find("task hello-");
  ASSERT_NE(at, std::string::npos) << *text;
  std::string taskId = text->substr(at + 5, text->find(':', at) - at - 5);
  std::string logs = cluster_->dir() + "/logs.out";
  Child stdoutLogs({NUCLEO_CLUSTER_BIN, "--master", cluster_->masterAddress(), "logs", taskId}, logs);
  EXPECT_EQ(stdoutLogs.wait(10s), 0);
  Child stderrLogs({NUCLEO_CLUSTER_BIN, "--master", cluster_->masterAddress(), "logs", "--stderr", taskId},
                   logs);
  EXPECT_EQ(stderrLogs.wait(10s), 0);
  auto logText = fs::readFile(logs);
  ASSERT_TRUE(logText);
  EXPECT_EQ(*logText, "out-line\nerr-line\n") << taskId;

  std::string listing = cluster_->dir() + "/cluster.out";
  Child agents({NUCLEO_CLUSTER_BIN, "--master", cluster_->masterAddress(), "agents"}, listing);
  EXPECT_EQ(agents.wait(10s), 0);
  Child tasks({NUCLEO_CLUSTER_BIN, "--master", cluster_->masterAddress(), "tasks", "--all"}, listing);
  EXPECT_EQ(tasks.wait(10s), 0);
  auto printed = fs::readFile(listing);
  ASSERT_TRUE(printed);
  EXPECT_NE(printed->find("127.0.0.1"), std::string::npos) << *printed;
  EXPECT_NE(printed->find("ID"), std::string::npos) << *printed;
}

TEST_F(ClusterTest, ROOT_BatchRetriesFailedJobsAndSummarizes) {
  startCluster();
  std::string jobs = cluster_->dir() + "/jobs.txt";
  ASSERT_TRUE(fs::writeFileAtomic(jobs,
                                  "echo one\n"
                                  "{\"name\": \"flaky\", \"command\": \"exit 1\"}\n"
                                  "# a comment\n"
                                  "echo three\n",
                                  0644, fs::Durability::Volatile));
  std::string out = cluster_->dir() + "/batch.out";
  Child batch({NUCLEO_BATCH_BIN, "--master", cluster_->masterAddress(), "--tasks", jobs, "--concurrency", "2",
               "--retries", "2", "--image", "busybox:latest", "--mem", "64"},
              out);
  int status = batch.wait(90s);
  ASSERT_NE(status, -1) << "nucleo-batch did not finish";
  EXPECT_EQ(WEXITSTATUS(status), 1) << "one job failed every attempt";
  auto text = fs::readFile(out);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("3 jobs: 2 succeeded, 1 failed"), std::string::npos) << *text;
  EXPECT_NE(text->find("flaky                    TASK_FAILED           3"), std::string::npos)
      << "the failing job was tried 1 + 2 times: " << *text;
}

}  // namespace
}  // namespace nucleo::e2e
