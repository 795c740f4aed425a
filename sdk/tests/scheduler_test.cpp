// The SDK's scheduler driver against the real nucleo-master on loopback,
// with a simulated agent (speaking proto/nucleo/agent.proto through the SDK's
// own HTTP client): subscribe, offers, launch, updates acknowledged
// implicitly, re-subscription with the same framework id after the master
// is killed and restarted, and ERROR stopping the driver.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "nucleo/agent.pb.h"
#include "sdk/http_client.hpp"
#include "sdk/http_common.hpp"
#include "sdk/recordio.hpp"
#include "sdk/scheduler.hpp"

namespace nucleo::sdk {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// nucleo-master as a child process; its port read from its first line.
class MasterProcess {
 public:
  MasterProcess(const std::string& workDir, uint16_t port, std::vector<std::string> extra = {}) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::string portFlag = "--port=" + std::to_string(port);
      std::string workFlag = "--work-dir=" + workDir;
      std::vector<std::string> args{"nucleo-master", portFlag, workFlag, "--heartbeat-interval=200ms",
                                    "--allocation-interval=50ms"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(NUCLEO_MASTER_BIN, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* stream = ::fdopen(out[0], "r");
    char line[256] = {};
    if (std::fgets(line, sizeof line, stream) != nullptr) {
      std::string text(line);
      auto colon = text.rfind(':');
      if (colon != std::string::npos) port_ = static_cast<uint16_t>(std::stoi(text.substr(colon + 1)));
    }
    std::fclose(stream);
  }
  ~MasterProcess() { kill(SIGTERM); }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// A simulated agent: registers, answers RUN_TASK with TASK_RUNNING and
// counts acknowledgements.
class SimAgent {
 public:
  explicit SimAgent(uint16_t port) : port_(port) {
    thread_ = std::thread([this] {
      asio::co_spawn(ioc_, run(), asio::detached);
      ioc_.run();
    });
  }
  ~SimAgent() {
    asio::post(ioc_, [this] {
      if (stream_) stream_->close();
      ioc_.stop();
    });
    thread_.join();
  }
  std::atomic<int> acknowledgements{0};
  std::atomic<int> launches{0};

 private:
  asio::awaitable<void> run() {
    stream_ = std::make_unique<HttpConnection>(ioc_.get_executor(), TlsOptions{});
    if (!co_await stream_->connect("127.0.0.1", std::to_string(port_), 5s)) co_return;
    nucleo::agent::Call call;
    call.set_type(nucleo::agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("sim-agent");
    info->set_port(5051);
    auto* cpus = info->add_resources();
    cpus->set_name("cpus");
    cpus->set_type(mesos::v1::Value::SCALAR);
    cpus->mutable_scalar()->set_value(2);
    auto* mem = info->add_resources();
    mem->set_name("mem");
    mem->set_type(mesos::v1::Value::SCALAR);
    mem->mutable_scalar()->set_value(1024);
    HttpHeaders headers;
    headers.emplace_back("Content-Type", "application/x-protobuf");
    headers.emplace_back("Accept", "application/x-protobuf");
    auto head = co_await stream_->openStream("/api/v1/nucleo/agent", headers,
                                             call.SerializeAsString(), 5s);
    if (!head || head->status != 200) co_return;
    streamId_ = head->headers["mesos-stream-id"];
    RecordIoDecoder decoder;
    while (true) {
      auto bytes = co_await stream_->readSome();
      if (!bytes || bytes->empty() || !decoder.feed(*bytes)) co_return;
      std::string record;
      while (decoder.next(&record)) {
        nucleo::agent::Event event;
        if (!event.ParseFromString(record)) co_return;
        co_await handle(event);
      }
    }
  }

  asio::awaitable<void> handle(const nucleo::agent::Event& event) {
    if (event.type() == nucleo::agent::Event::REGISTERED) agentId_ = event.registered().agent_id();
    if (event.type() == nucleo::agent::Event::ACKNOWLEDGE) ++acknowledgements;
    if (event.type() != nucleo::agent::Event::RUN_TASK) co_return;
    ++launches;
    nucleo::agent::Call update;
    update.set_type(nucleo::agent::Call::STATUS_UPDATE);
    *update.mutable_agent_id() = agentId_;
    *update.mutable_status_update()->mutable_framework_id() = event.run_task().framework().id();
    auto* status = update.mutable_status_update()->mutable_status();
    *status->mutable_task_id() = event.run_task().task().task_id();
    *status->mutable_agent_id() = agentId_;
    status->set_state(mesos::v1::TASK_RUNNING);
    status->set_source(mesos::v1::TaskStatus::SOURCE_AGENT);
    status->set_uuid(std::string(16, static_cast<char>('a' + launches)));
    HttpConnection calls(ioc_.get_executor(), TlsOptions{});
    if (!co_await calls.connect("127.0.0.1", std::to_string(port_), 5s)) co_return;
    HttpHeaders headers;
    headers.emplace_back("Content-Type", "application/x-protobuf");
    headers.emplace_back("Mesos-Stream-Id", streamId_);
    co_await calls.request("/api/v1/nucleo/agent", headers, update.SerializeAsString(), 5s);
  }

  uint16_t port_;
  asio::io_context ioc_;
  std::thread thread_;
  std::unique_ptr<HttpConnection> stream_;
  std::string streamId_;
  mesos::v1::AgentID agentId_;
};

// Records what the driver calls back, and launches one task on the first offer.
class Recorder : public Scheduler {
 public:
  void subscribed(SchedulerDriver&, const mesos::v1::scheduler::Event::Subscribed& s) override {
    std::lock_guard lock(mutex_);
    subscriptions.push_back(s.framework_id().value());
    changed_.notify_all();
  }
  void offers(SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    for (const auto& offer : offers) {
      if (launched_.exchange(true)) {
        driver.decline({offer.id()});
        continue;
      }
      mesos::v1::TaskInfo task;
      task.set_name("t");
      task.mutable_task_id()->set_value("task-1");
      *task.mutable_agent_id() = offer.agent_id();
      task.mutable_command()->set_value("sleep 100");
      auto* cpus = task.add_resources();
      cpus->set_name("cpus");
      cpus->set_type(mesos::v1::Value::SCALAR);
      cpus->mutable_scalar()->set_value(1);
      driver.launch(offer.id(), {task});
    }
  }
  void update(SchedulerDriver&, const mesos::v1::TaskStatus& status) override {
    std::lock_guard lock(mutex_);
    states.push_back(status.state());
    changed_.notify_all();
  }
  void disconnected(SchedulerDriver&, const std::string&) override { ++disconnects; }
  void error(SchedulerDriver&, const std::string& message) override {
    std::lock_guard lock(mutex_);
    errors.push_back(message);
  }

  template <class Pred>
  bool waitFor(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, pred);
  }

  std::vector<std::string> subscriptions, errors;
  std::vector<mesos::v1::TaskState> states;
  std::atomic<int> disconnects{0};

 private:
  std::atomic<bool> launched_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
};

SchedulerOptions optionsFor(uint16_t port, std::chrono::milliseconds backoff = 250ms,
                            Encoding encoding = Encoding::Json) {
  SchedulerOptions options;
  options.master = "127.0.0.1:" + std::to_string(port);
  options.encoding = encoding;
  options.backoffMin = backoff;
  options.backoffMax = backoff * 4;
  options.framework.set_user("root");
  options.framework.set_name("sdk-test");
  options.framework.set_failover_timeout(60);
  return options;
}

class SchedulerDriverTest : public ::testing::TestWithParam<Encoding> {
 protected:
  void SetUp() override {
    workDir_ = std::filesystem::temp_directory_path() /
               ("nucleo-sdk-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(workDir_);
  }
  void TearDown() override { std::filesystem::remove_all(workDir_); }
  std::filesystem::path workDir_;
};

TEST_P(SchedulerDriverTest, LaunchesOnAnOfferAndAcknowledgesUpdates) {
  MasterProcess master(workDir_.string(), 0);
  ASSERT_NE(master.port(), 0) << "nucleo-master did not start";
  SimAgent agent(master.port());
  Recorder recorder;
  SchedulerDriver driver(recorder, optionsFor(master.port(), 250ms, GetParam()));
  std::thread runner([&] { EXPECT_TRUE(driver.run()); });
  EXPECT_TRUE(recorder.waitFor([&] { return !recorder.states.empty(); }))
      << "no status update reached the scheduler";
  for (int i = 0; i < 100 && agent.acknowledgements == 0; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(agent.launches, 1);
  EXPECT_EQ(agent.acknowledgements, 1) << "the update was not acknowledged implicitly";
  ASSERT_FALSE(recorder.states.empty());
  EXPECT_EQ(recorder.states.front(), mesos::v1::TASK_RUNNING);
  ASSERT_TRUE(driver.frameworkId());
  driver.stop();
  runner.join();
}

INSTANTIATE_TEST_SUITE_P(Encodings, SchedulerDriverTest,
                         ::testing::Values(Encoding::Json, Encoding::Protobuf),
                         [](const auto& info) {
                           return info.param == Encoding::Json ? "Json" : "Protobuf";
                         });

TEST_F(SchedulerDriverTest, ResubscribesWithItsFrameworkIdAfterTheMasterRestarts) {
  auto master = std::make_unique<MasterProcess>(workDir_.string(), 0);
  uint16_t port = master->port();
  ASSERT_NE(port, 0);
  Recorder recorder;
  SchedulerDriver driver(recorder, optionsFor(port, 50ms));
  std::thread runner([&] { EXPECT_TRUE(driver.run()); });
  ASSERT_TRUE(recorder.waitFor([&] { return recorder.subscriptions.size() == 1; }));
  master->kill(SIGKILL);
  master = std::make_unique<MasterProcess>(workDir_.string(), port);
  ASSERT_EQ(master->port(), port);
  EXPECT_TRUE(recorder.waitFor([&] { return recorder.subscriptions.size() == 2; }, 15s))
      << "the driver did not re-subscribe";
  EXPECT_GE(recorder.disconnects, 1);
  if (recorder.subscriptions.size() == 2) {
    EXPECT_EQ(recorder.subscriptions[0], recorder.subscriptions[1])
        << "re-subscribed under a new framework id";
  }
  driver.stop();
  runner.join();
}

TEST_F(SchedulerDriverTest, SubscribesOverTlsVerifyingTheMaster) {
  std::string cert = (workDir_ / "cert.pem").string(), key = (workDir_ / "key.pem").string();
  std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                        "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                        " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "the openssl command is needed to make a certificate";
  MasterProcess master(workDir_.string(), 0, {"--tls-cert", cert, "--tls-key", key});
  ASSERT_NE(master.port(), 0) << "nucleo-master did not start with TLS";
  Recorder recorder;
  auto options = optionsFor(master.port());
  options.tls = true;
  options.caFile = cert;
  SchedulerDriver driver(recorder, options);
  std::thread runner([&] { (void)driver.run(); });
  EXPECT_TRUE(recorder.waitFor([&] { return recorder.subscriptions.size() == 1; }, 10s))
      << "no subscription over TLS";
  driver.stop();
  runner.join();

  // Without the CA, the master's certificate is not trusted: no subscription.
  Recorder untrusting;
  options.caFile = (workDir_ / "missing-ca.pem").string();
  SchedulerDriver refused(untrusting, options);
  std::thread second([&] { (void)refused.run(); });
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(untrusting.subscriptions.empty());
  refused.stop();
  second.join();
}

TEST_F(SchedulerDriverTest, MissedHeartbeatsCountAsALostConnection) {
  // A server that answers SUBSCRIBE with SUBSCRIBED and then says nothing.
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = acceptor.local_endpoint().port();
  std::atomic<int> subscribes{0};
  std::thread server([&] {
    for (int i = 0; i < 2; ++i) {
      asio::ip::tcp::socket socket(ioc);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (ec) return;
      char buffer[4096];
      socket.read_some(asio::buffer(buffer), ec);
      ++subscribes;
      std::string event = R"({"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f1"},"heartbeat_interval_seconds":0.1}})";
      std::string record = encodeRecord(event);
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", record.size());
      std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMesos-Stream-Id: s1\r\n"
          "Transfer-Encoding: chunked\r\n\r\n" + std::string(size) + record + "\r\n";
      asio::write(socket, asio::buffer(response), ec);
      std::this_thread::sleep_for(i == 0 ? 2s : 100ms);
    }
  });
  Recorder recorder;
  SchedulerDriver driver(recorder, optionsFor(port, 10ms));
  std::thread runner([&] { (void)driver.run(); });
  EXPECT_TRUE(recorder.waitFor([&] { return recorder.subscriptions.size() == 2; }, 5s))
      << "three silent heartbeat intervals (0.3 s) did not make the driver re-subscribe";
  EXPECT_GE(recorder.disconnects, 1);
  driver.stop();
  runner.join();
  server.join();
}

TEST(RecordIo, DecodesRecordsSplitAnywhereAndRefusesBadLengths) {
  std::string stream = encodeRecord("hello") + encodeRecord(std::string(300, 'x'));
  RecordIoDecoder decoder;
  for (char c : stream) ASSERT_TRUE(decoder.feed(std::string_view(&c, 1)));
  std::string record;
  ASSERT_TRUE(decoder.next(&record));
  EXPECT_EQ(record, "hello");
  ASSERT_TRUE(decoder.next(&record));
  EXPECT_EQ(record.size(), 300u);
  EXPECT_FALSE(decoder.next(&record));

  RecordIoDecoder bad;
  EXPECT_FALSE(bad.feed("12x\nabc"));
  RecordIoDecoder limited(10);
  EXPECT_FALSE(limited.feed("11\n"));
  RecordIoDecoder zero;
  EXPECT_FALSE(zero.feed("0\n"));
}

TEST(HostPort, ParsesTheFormsClientsUse) {
  auto plain = splitHostPort("10.0.0.1:5050", "1");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->first, "10.0.0.1");
  EXPECT_EQ(plain->second, "5050");
  auto url = splitHostPort("http://master.local/api", "5050");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->first, "master.local");
  EXPECT_EQ(url->second, "5050");
  auto v6 = splitHostPort("[::1]:7", "1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  EXPECT_FALSE(splitHostPort("host:http", "1"));
  EXPECT_EQ(basicAuthorization({"user", "pass"}), "Basic dXNlcjpwYXNz");
}

}  // namespace
}  // namespace nucleo::sdk

// A framework stops waiting exactly on these: a missing one would hang a
// scheduler, an extra one would drop a running task.
TEST(TaskStates, TerminalStatesAreTheOnesThatNeverChange) {
  using namespace mesos::v1;
  for (TaskState s : {TASK_FINISHED, TASK_FAILED, TASK_KILLED, TASK_ERROR, TASK_LOST, TASK_DROPPED,
                      TASK_GONE, TASK_GONE_BY_OPERATOR})
    EXPECT_TRUE(nucleo::sdk::isTerminal(s)) << TaskState_Name(s);
  for (TaskState s : {TASK_STAGING, TASK_STARTING, TASK_RUNNING, TASK_KILLING, TASK_UNREACHABLE,
                      TASK_UNKNOWN})
    EXPECT_FALSE(nucleo::sdk::isTerminal(s)) << TaskState_Name(s);
}
