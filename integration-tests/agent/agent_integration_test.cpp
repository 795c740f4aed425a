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

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "proto/json.hpp"

namespace nucleo::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;
using mesos::v1::TaskState;

const std::string kProtobuf = "application/x-protobuf";

struct Reply {
  int status = -1;
  std::string body;
};

Reply post(uint16_t port, const std::string& path, const std::string& body,
           const std::string& type, const std::string& streamId = "") {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, type);
  if (!streamId.empty()) req.set("Mesos-Stream-Id", streamId);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  if (ec) return {};
  return Reply{static_cast<int>(res.result_int()), res.body()};
}

Reply get(uint16_t port, const std::string& target) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  if (ec) return {};
  return Reply{static_cast<int>(res.result_int()), res.body()};
}

// A child process (master or agent) with its output in a file; SIGKILLed and
// reaped when dropped unless stopped before.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Process() { kill(SIGKILL); }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A framework: the SUBSCRIBE stream read in a background thread; updates are
// acknowledged as they come and recorded per task.
class Scheduler {
 public:
  explicit Scheduler(uint16_t port) : port_(port), socket_(ioc_) {}
  ~Scheduler() {
    beast::error_code ec;
    socket_.close(ec);
    if (reader_.joinable()) reader_.join();
  }

  bool subscribe() {
    beast::error_code ec;
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    if (ec) return false;
    Call call;
    call.set_type(Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("agent integration test");
    info->set_checkpoint(true);
    info->add_capabilities()->set_type(mesos::v1::FrameworkInfo::Capability::TASK_KILLING_STATE);
    http::request<http::string_body> req{http::verb::post, "/api/v1/scheduler", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, kProtobuf);
    req.set(http::field::accept, kProtobuf);
    req.body() = call.SerializeAsString();
    req.prepare_payload();
    http::write(socket_, req, ec);
    http::read_header(socket_, buffer_, parser_, ec);
    if (ec || parser_.get().result_int() != 200) return false;
    streamId_ = std::string(parser_.get()["Mesos-Stream-Id"]);
    parser_.on_chunk_body(onChunk_);
    reader_ = std::thread([this] { read(); });
    return waitUntil([&] { return !frameworkId_.empty(); }, 10s);
  }

  // Takes the next offer (waiting up to 15 s) and launches `tasks` on it.
  bool launch(std::vector<mesos::v1::TaskInfo> tasks) {
    mesos::v1::Offer offer;
    if (!nextOffer(&offer)) return false;
    Call call = base(Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = offer.id();
    auto* launch = call.mutable_accept()->add_operations();
    launch->set_type(mesos::v1::Offer::Operation::LAUNCH);
    for (auto& t : tasks) {
      *t.mutable_agent_id() = offer.agent_id();
      *launch->mutable_launch()->add_task_infos() = t;
    }
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(0.1);
    return send(call) == 202;
  }

  bool launchGroup(const mesos::v1::ExecutorInfo& executor, std::vector<mesos::v1::TaskInfo> tasks) {
    mesos::v1::Offer offer;
    if (!nextOffer(&offer)) return false;
    Call call = base(Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = offer.id();
    auto* op = call.mutable_accept()->add_operations();
    op->set_type(mesos::v1::Offer::Operation::LAUNCH_GROUP);
    *op->mutable_launch_group()->mutable_executor() = executor;
    op->mutable_launch_group()->mutable_executor()->mutable_framework_id()->set_value(frameworkId_);
    for (auto& t : tasks) {
      *t.mutable_agent_id() = offer.agent_id();
      *op->mutable_launch_group()->mutable_task_group()->add_tasks() = t;
    }
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(0.1);
    return send(call) == 202;
  }

  int kill(const std::string& taskId, std::optional<int64_t> graceNs = std::nullopt) {
    Call call = base(Call::KILL);
    call.mutable_kill()->mutable_task_id()->set_value(taskId);
    if (graceNs)
      call.mutable_kill()->mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(*graceNs);
    return send(call);
  }

  // Waits for the task to reach `state`; false after `timeout`.
  bool waitForState(const std::string& taskId, TaskState state, std::chrono::milliseconds timeout) {
    return waitUntil([&] {
      for (const auto& s : updates_[taskId]) if (s.state() == state) return true;
      return false;
    }, timeout);
  }
  std::vector<mesos::v1::TaskStatus> updatesOf(const std::string& taskId) {
    std::lock_guard lock(mutex_);
    return updates_[taskId];
  }
  size_t terminalCount(const std::string& taskId) {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& s : updates_[taskId]) {
      auto st = s.state();
      if (st == mesos::v1::TASK_FINISHED || st == mesos::v1::TASK_FAILED ||
          st == mesos::v1::TASK_KILLED || st == mesos::v1::TASK_ERROR || st == mesos::v1::TASK_LOST)
        ++n;
    }
    return n;
  }
  const std::string& frameworkId() const { return frameworkId_; }

 private:
  Call base(Call::Type type) {
    Call call;
    call.set_type(type);
    call.mutable_framework_id()->set_value(frameworkId_);
    return call;
  }
  int send(const Call& call) {
    return post(port_, "/api/v1/scheduler", call.SerializeAsString(), kProtobuf, streamId_).status;
  }
  bool nextOffer(mesos::v1::Offer* offer) {
    bool got = waitUntil([&] { return !offers_.empty(); }, 15s);
    if (!got) return false;
    std::lock_guard lock(mutex_);
    *offer = offers_.back();
    offers_.clear();
    return true;
  }
  template <class F>
  bool waitUntil(F&& f, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (f()) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    std::lock_guard lock(mutex_);
    return f();
  }
  void read() {
    while (!parser_.is_done()) {
      beast::error_code ec;
      http::read_some(socket_, buffer_, parser_, ec);
      if (ec) return;
      std::vector<std::string> records;
      {
        std::lock_guard lock(mutex_);
        records.swap(records_);
      }
      for (const auto& r : records) handle(r);
    }
  }
  void handle(const std::string& record) {
    Event event;
    if (!event.ParseFromString(record)) return;
    std::lock_guard lock(mutex_);
    if (event.type() == Event::SUBSCRIBED) frameworkId_ = event.subscribed().framework_id().value();
    if (event.type() == Event::OFFERS)
      for (const auto& o : event.offers().offers()) offers_.push_back(o);
    if (event.type() != Event::UPDATE) return;
    const auto& status = event.update().status();
    updates_[status.task_id().value()].push_back(status);
    if (status.uuid().empty()) return;
    Call ack = base(Call::ACKNOWLEDGE);
    *ack.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
    *ack.mutable_acknowledge()->mutable_task_id() = status.task_id();
    ack.mutable_acknowledge()->set_uuid(status.uuid());
    std::thread([port = port_, body = ack.SerializeAsString(), id = streamId_] {
      post(port, "/api/v1/scheduler", body, kProtobuf, id);
    }).detach();
  }

  uint16_t port_;
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  std::string streamId_;
  std::string frameworkId_;
  std::thread reader_;
  std::mutex mutex_;
  std::vector<std::string> records_;
  std::string pending_;
  std::vector<mesos::v1::Offer> offers_;
  std::map<std::string, std::vector<mesos::v1::TaskStatus>> updates_;
  std::function<size_t(uint64_t, beast::string_view, beast::error_code&)> onChunk_ =
      [this](uint64_t, beast::string_view body, beast::error_code&) {
        std::lock_guard lock(mutex_);
        pending_.append(body.data(), body.size());
        for (;;) {
          auto nl = pending_.find('\n');
          if (nl == std::string::npos) break;
          size_t len = std::stoul(pending_.substr(0, nl));
          if (pending_.size() < nl + 1 + len) break;
          records_.push_back(pending_.substr(nl + 1, len));
          pending_.erase(0, nl + 1 + len);
        }
        return body.size();
      };
};

uint16_t freePort() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

mesos::v1::TaskInfo commandTask(const std::string& id, const std::string& command) {
  mesos::v1::TaskInfo task;
  task.set_name(id);
  task.mutable_task_id()->set_value(id);
  task.mutable_command()->set_value(command);
  auto* cpus = task.add_resources();
  cpus->set_name("cpus");
  cpus->set_type(mesos::v1::Value::SCALAR);
  cpus->mutable_scalar()->set_value(0.1);
  auto* mem = task.add_resources();
  mem->set_name("mem");
  mem->set_type(mesos::v1::Value::SCALAR);
  mem->mutable_scalar()->set_value(32);
  return task;
}

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
                                 "--resources", "cpus:4;mem:4096;disk:1000",
                                 "--status-update-retry-min", "500ms",
                                 "--runtime", NUCLEO_BIN, "--supervisor", NUCLEO_SUPERVISOR_BIN,
                                 "--cgroup-parent", cgroupParent(),
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
  // The sandbox keeps the output; /files/read serves it.
  std::string state = post(agentPort_, "/api/v1", R"({"type":"GET_STATE"})", "application/json").body;
  EXPECT_NE(state.find("get_state"), std::string::npos);
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
  EXPECT_EQ(get(agentPort_, "/files/read?path=/etc/passwd").status, 404);
  EXPECT_EQ(get(agentPort_, "/health").status, 200);
}

}  // namespace
}  // namespace nucleo::agent
