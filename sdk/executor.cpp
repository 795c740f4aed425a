#include "sdk/executor.hpp"

#include <deque>
#include <functional>
#include <map>
#include <random>

#include <boost/asio.hpp>

#include "sdk/http_client.hpp"
#include "sdk/http_common.hpp"
#include "sdk/stream_driver.hpp"

namespace nucleo::sdk {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mesos::v1::executor::Call;
using mesos::v1::executor::Event;

namespace {
constexpr auto kUseErr = asio::as_tuple(asio::use_awaitable);

// Mesos's duration spelling in MESOS_* variables: "15mins", "2secs", "500ms".
Result<std::chrono::milliseconds> parseDuration(const std::string& name, const std::string& text) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    return Error::make("{}: '{}' is not a duration", name, text);
  }
  std::string unit = text.substr(end);
  static const std::map<std::string, double> units{
      {"ns", 1e-6}, {"us", 1e-3}, {"ms", 1}, {"secs", 1e3}, {"s", 1e3}, {"", 1e3},
      {"mins", 6e4}, {"hrs", 3.6e6}, {"days", 8.64e7}, {"weeks", 6.048e8}};
  auto factor = units.find(unit);
  if (factor == units.end()) return Error::make("{}: unknown unit in '{}'", name, text);
  return std::chrono::milliseconds(static_cast<int64_t>(value * factor->second));
}

std::string randomUuid() {
  std::random_device device;
  std::string bytes(16, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(device() & 0xff);
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);
  return bytes;
}
}  // namespace

Result<ExecutorOptions> ExecutorOptions::fromEnvironment() {
  auto need = [](const char* name) -> Result<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return Error::make("{} is not set (run me from an agent)", name);
    return std::string(value);
  };
  ExecutorOptions options;
  TRY_ASSIGN(options.agentEndpoint, need("MESOS_AGENT_ENDPOINT"));
  TRY_ASSIGN(auto framework, need("MESOS_FRAMEWORK_ID"));
  TRY_ASSIGN(auto executor, need("MESOS_EXECUTOR_ID"));
  options.frameworkId.set_value(framework);
  options.executorId.set_value(executor);
  if (const char* sandbox = std::getenv("MESOS_SANDBOX")) options.sandbox = sandbox;
  else if (const char* directory = std::getenv("MESOS_DIRECTORY")) options.sandbox = directory;
  if (const char* checkpoint = std::getenv("MESOS_CHECKPOINT")) options.checkpoint = std::string(checkpoint) == "1";
  for (auto [name, out] : {std::pair{"MESOS_RECOVERY_TIMEOUT", &options.recoveryTimeout},
                           std::pair{"MESOS_SUBSCRIPTION_BACKOFF_MAX", &options.subscriptionBackoffMax},
                           std::pair{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", &options.shutdownGracePeriod}}) {
    if (const char* value = std::getenv(name)) {
      TRY_ASSIGN(*out, parseDuration(name, value));
    }
  }
  return options;
}

void Executor::shutdown(ExecutorDriver& driver) { driver.stop(); }

void Executor::launchGroup(ExecutorDriver& driver, const mesos::v1::TaskGroupInfo& group) {
  for (const auto& task : group.tasks())
    driver.sendStatus(task.task_id(), mesos::v1::TASK_ERROR, "this executor does not run task groups");
}

class ExecutorDriver::Impl {
 public:
  Impl(ExecutorDriver& driver, Executor& executor, ExecutorOptions options)
      : driver_(driver), executor_(executor), options_(std::move(options)), wakeup_(ioc_) {}

  Status run() {
    auto address = splitHostPort(options_.agentEndpoint, "5051");
    if (!address) return std::move(address).error();
    endpoint_ = {address->first, address->second, "/api/v1/executor"};
    asio::co_spawn(ioc_, subscriptionLoop(), asio::detached);
    asio::co_spawn(ioc_, callLoop(), asio::detached);
    ioc_.run();
    return finalStatus_;
  }

  void stop() {
    asio::post(ioc_, [this] {
      // Updates already queued go out first (a terminal update right before
      // stop() must reach the agent).
      stopAfterCalls_ = true;
      wakeup_.cancel();
    });
  }

  void update(mesos::v1::TaskStatus status) {
    status.set_uuid(randomUuid());
    status.set_source(mesos::v1::TaskStatus::SOURCE_EXECUTOR);
    *status.mutable_executor_id() = options_.executorId;
    status.set_timestamp(std::chrono::duration<double>(
                             std::chrono::system_clock::now().time_since_epoch()).count());
    asio::post(ioc_, [this, status = std::move(status)] {
      Call call = baseCall(Call::UPDATE);
      *call.mutable_update()->mutable_status() = status;
      unacknowledged_[status.uuid()] = call.update();
      launchedWithoutUpdate_.erase(status.task_id().value());
      queue(std::move(call));
    });
  }

  void message(const std::string& data) {
    asio::post(ioc_, [this, data] {
      Call call = baseCall(Call::MESSAGE);
      call.mutable_message()->set_data(data);
      queue(std::move(call));
    });
  }

 private:
  Call baseCall(Call::Type type) const {
    Call call;
    call.set_type(type);
    *call.mutable_framework_id() = options_.frameworkId;
    *call.mutable_executor_id() = options_.executorId;
    return call;
  }

  void queue(Call call) {
    calls_.push_back(std::move(call));
    wakeup_.cancel();
  }

  void finish(Status why) {
    if (stopped_) return;
    stopped_ = true;
    finalStatus_ = std::move(why);
    if (stream_) stream_->close();
    if (callConnection_) callConnection_->close();
    wakeup_.cancel();
    ioc_.stop();
  }

  asio::awaitable<void> subscriptionLoop() {
    auto lostSince = std::chrono::steady_clock::now();
    auto backoff = 100ms;
    while (!stopped_) {
      std::string why = co_await subscribeOnce();
      if (stopped_) break;
      if (subscribed_) {
        subscribed_ = false;
        lostSince = std::chrono::steady_clock::now();
        backoff = 100ms;
        executor_.disconnected(driver_, why);
      }
      if (!options_.checkpoint) {
        finish(Error::make("lost the agent {} ({}) and checkpointing is off", options_.agentEndpoint, why));
        break;
      }
      if (std::chrono::steady_clock::now() - lostSince > options_.recoveryTimeout) {
        finish(Error::make("the agent {} did not come back within the recovery timeout ({})",
                           options_.agentEndpoint, why));
        break;
      }
      asio::steady_timer delay(ioc_, backoff);
      co_await delay.async_wait(kUseErr);
      backoff = std::min(backoff * 2, options_.subscriptionBackoffMax);
    }
  }

  asio::awaitable<std::string> subscribeOnce() {
    stream_ = std::make_unique<HttpConnection>(ioc_.get_executor(), TlsOptions{});
    Status connected = co_await stream_->connect(endpoint_.host, endpoint_.port, detail::kConnectTimeout);
    if (!connected) co_return connected.error().message;
    executor_.connected(driver_);
    Call call = baseCall(Call::SUBSCRIBE);
    auto* subscribe = call.mutable_subscribe();
    for (const auto& [id, task] : launchedWithoutUpdate_) *subscribe->add_unacknowledged_tasks() = task;
    for (const auto& [uuid, update] : unacknowledged_) *subscribe->add_unacknowledged_updates() = update;
    auto head = co_await stream_->openStream(endpoint_.path, detail::callHeaders(options_.encoding),
                                             encode(call, options_.encoding), detail::kRequestTimeout);
    if (!head) co_return head.error().message;
    if (head->status != 200) co_return co_await detail::refusalReason(*stream_, head->status);
    Event event;
    std::function<bool()> onEvent = [&] {
      dispatch(event);
      return !stopped_;
    };
    co_return co_await detail::readEvents(*stream_, options_.encoding, event, onEvent, "agent");
  }

  void dispatch(const Event& event) {
    switch (event.type()) {
      case Event::SUBSCRIBED:
        subscribed_ = true;
        executor_.subscribed(driver_, event.subscribed());
        // Updates the agent has not acknowledged go out again.
        for (const auto& [uuid, update] : unacknowledged_) {
          Call call = baseCall(Call::UPDATE);
          *call.mutable_update() = update;
          calls_.push_back(std::move(call));
        }
        wakeup_.cancel();
        break;
      case Event::LAUNCH:
        launchedWithoutUpdate_[event.launch().task().task_id().value()] = event.launch().task();
        executor_.launch(driver_, event.launch().task());
        break;
      case Event::LAUNCH_GROUP:
        for (const auto& task : event.launch_group().task_group().tasks())
          launchedWithoutUpdate_[task.task_id().value()] = task;
        executor_.launchGroup(driver_, event.launch_group().task_group());
        break;
      case Event::KILL: {
        std::optional<mesos::v1::KillPolicy> policy;
        if (event.kill().has_kill_policy()) policy = event.kill().kill_policy();
        executor_.kill(driver_, event.kill().task_id(), policy);
        break;
      }
      case Event::ACKNOWLEDGED:
        unacknowledged_.erase(event.acknowledged().uuid());
        executor_.acknowledged(driver_, event.acknowledged().task_id(), event.acknowledged().uuid());
        break;
      case Event::MESSAGE:
        executor_.message(driver_, event.message().data());
        break;
      case Event::SHUTDOWN:
        executor_.shutdown(driver_);
        break;
      case Event::ERROR:
        executor_.error(driver_, event.error().message());
        break;
      case Event::HEARTBEAT:
        executor_.heartbeat(driver_);
        break;
      default:
        break;
    }
  }

  asio::awaitable<void> callLoop() {
    callConnection_ = std::make_unique<HttpConnection>(ioc_.get_executor(), TlsOptions{});
    const HttpHeaders headers = detail::callHeaders(options_.encoding);
    const std::function<bool()> stopped = [this] { return stopped_; };
    while (!stopped_) {
      if (calls_.empty() || !subscribed_) {
        if (stopAfterCalls_ && (calls_.empty() || !subscribed_)) {
          finish(Status{});
          break;
        }
        wakeup_.expires_after(1h);
        co_await wakeup_.async_wait(kUseErr);
        continue;
      }
      Call call = std::move(calls_.front());
      calls_.pop_front();
      std::string body = encode(call, options_.encoding);
      auto response = co_await detail::postCall(*callConnection_, endpoint_, headers, body, stopped);
      if (response && response->head.status != 202)
        executor_.error(driver_, "the agent refused " + Call::Type_Name(call.type()) + ": HTTP " +
                                     std::to_string(response->head.status) + " " + response->body);
      // An unsent UPDATE stays in unacknowledged_ and goes out again after
      // the next SUBSCRIBED.
    }
  }

  ExecutorDriver& driver_;
  Executor& executor_;
  ExecutorOptions options_;
  asio::io_context ioc_;
  asio::steady_timer wakeup_;
  detail::Endpoint endpoint_;
  std::unique_ptr<HttpConnection> stream_, callConnection_;
  std::deque<Call> calls_;
  std::map<std::string, Call::Update> unacknowledged_;            // by uuid
  std::map<std::string, mesos::v1::TaskInfo> launchedWithoutUpdate_;  // by task id
  bool subscribed_ = false, stopped_ = false, stopAfterCalls_ = false;
  Status finalStatus_;
};

ExecutorDriver::ExecutorDriver(Executor& executor, ExecutorOptions options)
    : impl_(std::make_unique<Impl>(*this, executor, std::move(options))) {}
ExecutorDriver::~ExecutorDriver() = default;
Status ExecutorDriver::run() { return impl_->run(); }
void ExecutorDriver::stop() { impl_->stop(); }
void ExecutorDriver::update(mesos::v1::TaskStatus status) { impl_->update(std::move(status)); }
void ExecutorDriver::message(const std::string& data) { impl_->message(data); }

void ExecutorDriver::sendStatus(const mesos::v1::TaskID& task, mesos::v1::TaskState state,
                                const std::string& message) {
  mesos::v1::TaskStatus status;
  *status.mutable_task_id() = task;
  status.set_state(state);
  if (!message.empty()) status.set_message(message);
  update(std::move(status));
}

}  // namespace nucleo::sdk
