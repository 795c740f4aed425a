#pragma once
// Test-side clients for nucleo-agent end-to-end runs (integration tests and
// bench/agent_bench.cpp): child processes, plain HTTP calls, and a Mesos v1
// scheduler over protobuf that acknowledges every update it records.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mesos/v1/scheduler/scheduler.pb.h"

namespace nucleo::agent::e2e {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;
using mesos::v1::TaskState;

inline const std::string kProtobuf = "application/x-protobuf";

struct Reply {
  int status = -1;
  std::string body;
};

inline Reply post(uint16_t port, const std::string& path, const std::string& body,
           const std::string& type, const std::string& streamId = "") {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  socket.set_option(tcp::no_delay(true), ec);
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

inline Reply get(uint16_t port, const std::string& target) {
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
  pid_t pid() const { return pid_; }
  // Sends a signal without waiting (SIGSTOP, SIGCONT).
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
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
    socket_.set_option(tcp::no_delay(true), ec);
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
  // Waits for an offer and accepts it with `tasks`; `acceptedAt`, when given,
  // gets the time the ACCEPT was sent (after the offer came).
  bool launch(std::vector<mesos::v1::TaskInfo> tasks,
              std::chrono::steady_clock::time_point* acceptedAt = nullptr) {
    mesos::v1::Offer offer;
    if (!nextOffer(&offer)) return false;
    if (acceptedAt) *acceptedAt = std::chrono::steady_clock::now();
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
  // Waits for `state` or any terminal state; true only for `state`.
  bool waitForStateOrEnd(const std::string& taskId, TaskState state,
                         std::chrono::milliseconds timeout) {
    bool reached = false;
    waitUntil([&] {
      for (const auto& s : updates_[taskId]) {
        if (s.state() == state) reached = true;
        if (reached || terminal(s.state())) return true;
      }
      return false;
    }, timeout);
    return reached;
  }
  static bool terminal(TaskState st) {
    return st == mesos::v1::TASK_FINISHED || st == mesos::v1::TASK_FAILED ||
           st == mesos::v1::TASK_KILLED || st == mesos::v1::TASK_ERROR ||
           st == mesos::v1::TASK_LOST || st == mesos::v1::TASK_DROPPED ||
           st == mesos::v1::TASK_GONE;
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
  // When the task's first update in `state` arrived.
  std::optional<std::chrono::steady_clock::time_point> seenAt(const std::string& taskId,
                                                               TaskState state) {
    std::lock_guard lock(mutex_);
    auto task = seen_.find(taskId);
    if (task == seen_.end()) return std::nullopt;
    auto it = task->second.find(state);
    if (it == task->second.end()) return std::nullopt;
    return it->second;
  }

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
    seen_[status.task_id().value()].emplace(status.state(), std::chrono::steady_clock::now());
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
  std::map<std::string, std::map<TaskState, std::chrono::steady_clock::time_point>> seen_;
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

inline uint16_t freePort() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

inline mesos::v1::TaskInfo commandTask(const std::string& id, const std::string& command) {
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
  // 64, not Mesos's 32 MB minimum: `nucleo create` (Debug) peaks near 34 MB
  // inside the container's memory cgroup and would be OOM-killed.
  mem->mutable_scalar()->set_value(64);
  return task;
}


}  // namespace nucleo::agent::e2e
