// `nucleo cluster run|kill|top` end to end (issue 8): the real nucleo-cluster
// binary against a real master and agent running busybox containers. Root:
// containers need namespaces and cgroups.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <regex>

#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "integration-tests/cluster/cluster.hpp"

namespace nucleo::e2e {
namespace {

struct Ran {
  int code = -1;  // the exit code; -1: timed out (killed) or killed by a signal
  std::string out, err;
};

// Runs nucleo-cluster with `args`, stdout and stderr kept apart.
Ran cli(const std::string& dir, const std::vector<std::string>& args,
        std::chrono::milliseconds timeout = 60s) {
  static int serial = 0;
  std::string out = dir + "/cli-" + std::to_string(++serial) + ".out";
  std::string err = out.substr(0, out.size() - 4) + ".err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv{const_cast<char*>(NUCLEO_CLUSTER_BIN)};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Ran ran;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (status != -1 && WIFEXITED(status)) ran.code = WEXITSTATUS(status);
  if (auto text = fs::readFile(out)) ran.out = *text;
  if (auto text = fs::readFile(err)) ran.err = *text;
  return ran;
}

std::string describe(const Ran& ran) {
  return "exit " + std::to_string(ran.code) + "\nstdout:\n" + ran.out + "\nstderr:\n" + ran.err;
}

// A number field of the JSON object that follows `"task_id":"ID"` in `json`.
std::optional<double> taskField(const std::string& json, const std::string& id, const std::string& field) {
  auto at = json.find("\"task_id\":\"" + id + "\"");
  if (at == std::string::npos) return std::nullopt;
  auto end = json.find('}', at);
  auto key = json.find("\"" + field + "\":", at);
  if (key == std::string::npos || key > end) return std::nullopt;
  return std::strtod(json.c_str() + key + field.size() + 3, nullptr);
}

class ClusterCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: containers use namespaces and cgroups";
    std::string unshareFailure = enterPrivateMountNamespace();
    ASSERT_TRUE(unshareFailure.empty()) << unshareFailure;
    cluster_ = std::make_unique<Cluster>();
    std::string failure = cluster_->start();
    ASSERT_TRUE(failure.empty()) << failure;
  }

  Ran run(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), {"--master", cluster_->masterAddress()});
    return cli(cluster_->dir(), args, timeout);
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(ClusterCliTest, ROOT_RunStreamsOutputAndExitsWithTheTaskCode) {
  auto ran = run({"run", "--name", "hello", "--image", "busybox:latest", "--env", "GREETING=hi there",
                  "--cpus", "0.2", "--mem", "64", "--", "echo $GREETING from $(hostname); echo oops >&2; exit 3"});
  EXPECT_EQ(ran.code, 3) << describe(ran) << cluster_->logs();
  EXPECT_NE(ran.out.find("hi there from"), std::string::npos) << describe(ran);
  EXPECT_NE(ran.err.find("oops"), std::string::npos) << describe(ran);
  EXPECT_TRUE(std::regex_search(ran.err, std::regex("task hello-[0-9a-f]{8} on agent"))) << describe(ran);
  EXPECT_NE(ran.err.find("TASK_FAILED"), std::string::npos) << describe(ran);

  auto ok = run({"run", "--image", "busybox:latest", "--command", "true"});
  EXPECT_EQ(ok.code, 0) << describe(ok);
  EXPECT_NE(ok.err.find("TASK_FINISHED"), std::string::npos) << describe(ok);

  // Attached runs tear their frameworks down at the end.
  auto frameworks = run({"frameworks"});
  EXPECT_EQ(frameworks.code, 0) << describe(frameworks);
  EXPECT_EQ(frameworks.out.find("nucleo cluster run"), std::string::npos) << describe(frameworks);
}

TEST_F(ClusterCliTest, ROOT_InterruptedRunKillsItsTask) {
  std::string log = cluster_->dir() + "/interrupted.log";
  Child attached({NUCLEO_CLUSTER_BIN, "--master", cluster_->masterAddress(), "run", "--name", "napper",
                  "--image", "busybox:latest", "--", "sleep 600"},
                 log);
  auto running = [&] {
    auto text = fs::readFile(log);
    return text && text->find("TASK_RUNNING") != std::string::npos;
  };
  ASSERT_TRUE(Framework().waitUntil(running, 30s)) << fs::readFile(log).value() << cluster_->logs();
  ::kill(attached.pid(), SIGINT);  // Child::kill would reap it and drop the status
  int status = attached.wait(30s);
  ASSERT_NE(status, -1) << "run did not end after Ctrl-C";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL)
      << status << fs::readFile(log).value();
  EXPECT_NE(fs::readFile(log).value().find("TASK_KILLED"), std::string::npos) << fs::readFile(log).value();
}

TEST_F(ClusterCliTest, ROOT_DetachedTaskShowsInTopAndIsKilled) {
  auto detached = run({"run", "--detach", "--name", "sleeper", "--image", "busybox:latest", "--mem", "64",
                       "--", "head -c 20m /dev/zero > /tmp/ballast; sleep 600"});
  ASSERT_EQ(detached.code, 0) << describe(detached) << cluster_->logs();
  std::smatch match;
  std::regex idLine("^(sleeper-[0-9a-f]{8})\n$");
  ASSERT_TRUE(std::regex_match(detached.out, match, idLine)) << "stdout is the id alone: " << describe(detached);
  std::string id = match[1];

  // The task runs on without the CLI, and top sees its container's memory
  // (busybox's /tmp is the container's own; the 20 MB written count once
  // written, so wait for them).
  std::optional<double> memory;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  Ran top;
  while (std::chrono::steady_clock::now() < deadline) {
    top = run({"top", "--once", "--json"});
    ASSERT_EQ(top.code, 0) << describe(top);
    memory = taskField(top.out, id, "mem_bytes");
    if (memory && *memory > 0) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(memory) << "top does not show the task: " << describe(top);
  EXPECT_GT(*memory, 0) << describe(top);
  EXPECT_GT(taskField(top.out, id, "mem_limit_bytes").value_or(0), 60e6) << describe(top);
  EXPECT_TRUE(taskField(top.out, id, "cpu_percent")) << describe(top);
  EXPECT_NE(top.out.find("\"state\":\"TASK_RUNNING\""), std::string::npos) << describe(top);

  auto table = run({"top", "--once"});
  EXPECT_EQ(table.code, 0) << describe(table);
  EXPECT_NE(table.out.find(id), std::string::npos) << describe(table);
  EXPECT_NE(table.out.find("MEM/LIMIT"), std::string::npos) << describe(table);

  auto killed = run({"kill", id});
  EXPECT_EQ(killed.code, 0) << describe(killed) << cluster_->logs();
  EXPECT_NE(killed.out.find(id + ": TASK_KILLED"), std::string::npos) << describe(killed);

  auto tasks = run({"tasks", "--all"});
  EXPECT_TRUE(std::regex_search(tasks.out, std::regex(id + " +sleeper +KILLED"))) << describe(tasks);
  // Its framework, run's own, went with it.
  auto frameworks = run({"frameworks"});
  EXPECT_EQ(frameworks.out.find("nucleo cluster run"), std::string::npos) << describe(frameworks);
  // And it cannot be killed twice.
  auto again = run({"kill", id});
  EXPECT_EQ(again.code, 1) << describe(again);
  EXPECT_NE(again.err.find("already ended"), std::string::npos) << describe(again);
}

TEST_F(ClusterCliTest, ROOT_KillTakesAConnectedFrameworkOverOnlyWithForce) {
  Framework framework;
  RunningDriver driver(framework, frameworkOptions(cluster_->masterAddress(), "owner", 60));
  framework.queue({{commandTask("owned", "sleep 600")}, {}, {}});
  ASSERT_TRUE(framework.waitFor("owned", mesos::v1::TASK_RUNNING)) << cluster_->logs();

  auto refused = run({"kill", "owned"});
  EXPECT_EQ(refused.code, 1) << describe(refused);
  EXPECT_NE(refused.err.find("connected"), std::string::npos) << describe(refused);
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << describe(refused);
  EXPECT_TRUE(framework.waitFor("owned", mesos::v1::TASK_RUNNING, 0ms)) << "refused, yet the task ended";

  auto forced = run({"kill", "--force", "owned"});
  EXPECT_EQ(forced.code, 0) << describe(forced) << cluster_->logs();
  EXPECT_NE(forced.out.find("owned: TASK_KILLED"), std::string::npos) << describe(forced);
  // Another framework's framework survives the kill: only the task ended.
  auto frameworks = run({"frameworks"});
  EXPECT_NE(frameworks.out.find("owner"), std::string::npos) << describe(frameworks);
}

TEST_F(ClusterCliTest, ROOT_BadInputIsOneLineAndNonZero) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"kill", "no-such-task"}, {"logs", "no-such-task"}, {"run", "--image", "busybox:latest"},
           {"run", "--cpus", "0", "true"}, {"top", "--once", "--interval", "0"}}) {
    auto ran = run(args, 20s);
    std::string what = args[0] + " " + args[1];
    EXPECT_NE(ran.code, 0) << what << ": " << describe(ran);
    EXPECT_NE(ran.code, -1) << what << ": hung";
    EXPECT_EQ(std::count(ran.err.begin(), ran.err.end(), '\n'), 1) << what << ": " << describe(ran);
    EXPECT_EQ(ran.err.rfind("nucleo cluster: ", 0), 0u) << what << ": " << describe(ran);
    if (args[1] == "no-such-task") {
      EXPECT_NE(ran.err.find("'no-such-task'"), std::string::npos) << describe(ran);
    }
  }
  // An image the agent does not have: the task fails and run says so.
  auto missing = run({"run", "--image", "no-such-image:latest", "true"});
  EXPECT_NE(missing.code, 0) << describe(missing);
  EXPECT_NE(missing.code, -1) << "hung";
}

// No master at all: one line naming the address, exit 1, no waiting.
TEST(ClusterCliNoMaster, MasterDownIsOneLineAndNonZero) {
  std::string dir = ::testing::TempDir();
  std::string master = "127.0.0.1:" + std::to_string(freePort());
  for (auto args : std::vector<std::vector<std::string>>{
           {"top", "--once"}, {"run", "true"}, {"kill", "some-task"}, {"tasks"}}) {
    args.insert(args.begin(), {"--master", master});
    auto started = std::chrono::steady_clock::now();
    auto ran = cli(dir, args, 20s);
    EXPECT_EQ(ran.code, 1) << args[2] << ": " << describe(ran);
    EXPECT_EQ(std::count(ran.err.begin(), ran.err.end(), '\n'), 1) << args[2] << ": " << describe(ran);
    EXPECT_NE(ran.err.find(master), std::string::npos) << describe(ran);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << args[2];
  }
}

}  // namespace
}  // namespace nucleo::e2e
