#include "sdk/scheduler.hpp"

#include <deque>
#include <functional>
#include <mutex>
#include <random>

#include <boost/asio.hpp>

#include "base/logging.hpp"
#include "sdk/http_client.hpp"
#include "sdk/http_common.hpp"
#include "sdk/stream_driver.hpp"

namespace nucleo::sdk {

bool isTerminal(mesos::v1::TaskState state) {
  switch (state) {
    case mesos::v1::TASK_FINISHED: case mesos::v1::TASK_FAILED: case mesos::v1::TASK_KILLED:
    case mesos::v1::TASK_ERROR: case mesos::v1::TASK_LOST: case mesos::v1::TASK_DROPPED:
    case mesos::v1::TASK_GONE: case mesos::v1::TASK_GONE_BY_OPERATOR:
      return true;
    default:
      return false;
  }
}

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

namespace {
constexpr auto kUseErr = asio::as_tuple(asio::use_awaitable);
}  // namespace

class SchedulerDriver::Impl {
 public:
  Impl(SchedulerDriver& driver, Scheduler& scheduler, SchedulerOptions options)
      : driver_(driver),
        scheduler_(scheduler),
        options_(std::move(options)),
        callWakeup_(ioc_),
        watchdog_(ioc_),
        rng_(std::random_device{}()) {
    if (options_.framework.has_id()) frameworkId_ = options_.framework.id();
  }

  Status run() {
    auto address = splitHostPort(options_.master, "5050");
    if (!address) return std::move(address).error();
    endpoint_ = {address->first, address->second, "/api/v1/scheduler"};
    asio::co_spawn(ioc_, subscriptionLoop(), asio::detached);
    asio::co_spawn(ioc_, callLoop(), asio::detached);
    ioc_.run();
    return finalStatus_;
  }

  void stop(bool teardown) {
    asio::post(ioc_, [this, teardown] {
      if (teardown && streamId_) {
        Call call;
        call.set_type(Call::TEARDOWN);
        calls_.push_back(std::move(call));
        stopAfterCalls_ = true;
        callWakeup_.cancel();
        return;
      }
      shutdownNow(Status{});
    });
  }

  void send(Call call) {
    asio::post(ioc_, [this, call = std::move(call)]() mutable {
      if (stopped_) return;
      calls_.push_back(std::move(call));
      callWakeup_.cancel();
    });
  }

  std::optional<mesos::v1::FrameworkID> frameworkId() const {
    std::lock_guard lock(idMutex_);
    return frameworkId_;
  }

  bool implicitAcknowledgements() const { return options_.implicitAcknowledgements; }

 private:
  HttpHeaders headers(bool withStream) const {
    HttpHeaders result = detail::callHeaders(options_.encoding);
    if (options_.credential) result.emplace_back("Authorization", basicAuthorization(*options_.credential));
    if (withStream && streamId_) result.emplace_back("Mesos-Stream-Id", *streamId_);
    return result;
  }

  TlsOptions tls() const { return {options_.tls, options_.caFile}; }

  void shutdownNow(Status why) {
    if (stopped_) return;
    stopped_ = true;
    finalStatus_ = std::move(why);
    if (stream_) stream_->close();
    if (callConnection_) callConnection_->close();
    watchdog_.cancel();
    callWakeup_.cancel();
    ioc_.stop();
  }

  std::chrono::milliseconds nextBackoff() {
    auto ceiling = std::min(options_.backoffMax, options_.backoffMin * (1 << std::min(attempt_, 10)));
    ++attempt_;
    std::uniform_int_distribution<int64_t> jitter(ceiling.count() / 2, ceiling.count());
    return std::chrono::milliseconds(jitter(rng_));
  }

  void queueAcknowledgement(const mesos::v1::TaskStatus& status) {
    if (!status.has_uuid() || status.uuid().empty()) return;
    Call call;
    call.set_type(Call::ACKNOWLEDGE);
    *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
    *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
    call.mutable_acknowledge()->set_uuid(status.uuid());
    calls_.push_back(std::move(call));
    callWakeup_.cancel();
  }

  asio::awaitable<void> subscriptionLoop() {
    while (!stopped_) {
      std::string why = co_await subscribeOnce();
      if (stopAfterCalls_) {
        // After TEARDOWN the master closes the stream: that is the end, once
        // the calls before it are sent.
        while (!stopped_ && !calls_.empty()) {
          asio::steady_timer wait(ioc_, 20ms);
          co_await wait.async_wait(kUseErr);
        }
        shutdownNow(Status{});
        break;
      }
      bool wasSubscribed = streamId_.has_value();
      streamId_.reset();
      if (stopped_) break;
      if (callConnection_) callConnection_->close();
      scheduler_.disconnected(driver_, why);
      if (wasSubscribed) attempt_ = 0;
      asio::steady_timer delay(ioc_, nextBackoff());
      co_await delay.async_wait(kUseErr);
    }
  }

  // One subscription, from connect to the loss of its stream; returns why it ended.
  asio::awaitable<std::string> subscribeOnce() {
    stream_ = std::make_unique<HttpConnection>(ioc_.get_executor(), tls());
    Status connected = co_await stream_->connect(endpoint_.host, endpoint_.port, detail::kConnectTimeout);
    if (!connected) co_return connected.error().message;
    scheduler_.connected(driver_);
    Call call;
    call.set_type(Call::SUBSCRIBE);
    *call.mutable_subscribe()->mutable_framework_info() = options_.framework;
    if (frameworkId_) {
      *call.mutable_framework_id() = *frameworkId_;
      *call.mutable_subscribe()->mutable_framework_info()->mutable_id() = *frameworkId_;
    }
    auto head = co_await stream_->openStream(endpoint_.path, headers(false), encode(call, options_.encoding),
                                             detail::kRequestTimeout);
    if (!head) co_return head.error().message;
    if (head->status != 200) co_return co_await refused(head->status);
    auto stream = head->headers.find("mesos-stream-id");
    if (stream == head->headers.end()) co_return "SUBSCRIBE answer without Mesos-Stream-Id";
    pendingStreamId_ = stream->second;
    armWatchdog(15s * options_.missedHeartbeats);
    Event event;
    std::function<bool()> onEvent = [&] {
      dispatch(event);
      return !stopped_;
    };
    co_return co_await detail::readEvents(*stream_, options_.encoding, event, onEvent, "master");
  }

  // A non-200 answer to SUBSCRIBE: 4xx other than 408/429 will not get better
  // by retrying, so the driver stops with the master's reason.
  asio::awaitable<std::string> refused(int status) {
    std::string why = co_await detail::refusalReason(*stream_, status);
    if (status >= 400 && status < 500 && status != 408 && status != 429) {
      scheduler_.error(driver_, why);
      shutdownNow(Error::make("{}", why));
    }
    co_return why;
  }

  void armWatchdog(std::chrono::milliseconds after) {
    watchdog_.expires_after(after);
    watchdog_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped_) return;
      spdlog::warn("scheduler: no event from the master for {} ms: re-subscribing",
                   std::chrono::duration_cast<std::chrono::milliseconds>(heartbeatTimeout()).count());
      if (stream_) stream_->close();
    });
  }

  std::chrono::milliseconds heartbeatTimeout() const {
    return std::chrono::milliseconds(static_cast<int64_t>(heartbeatSeconds_ * 1000)) *
           options_.missedHeartbeats;
  }

  void dispatch(const Event& event) {
    armWatchdog(heartbeatTimeout());
    switch (event.type()) {
      case Event::SUBSCRIBED: {
        {
          std::lock_guard lock(idMutex_);
          frameworkId_ = event.subscribed().framework_id();
        }
        streamId_ = pendingStreamId_;
        attempt_ = 0;
        if (event.subscribed().heartbeat_interval_seconds() > 0)
          heartbeatSeconds_ = event.subscribed().heartbeat_interval_seconds();
        armWatchdog(heartbeatTimeout());
        scheduler_.subscribed(driver_, event.subscribed());
        callWakeup_.cancel();
        break;
      }
      case Event::OFFERS:
        scheduler_.offers(driver_, {event.offers().offers().begin(), event.offers().offers().end()});
        break;
      case Event::RESCIND:
        scheduler_.rescind(driver_, event.rescind().offer_id());
        break;
      case Event::UPDATE:
        scheduler_.update(driver_, event.update().status());
        // Queued at once, not posted: a stop(teardown) from the callback,
        // which is posted, must come after this acknowledgement.
        if (options_.implicitAcknowledgements) queueAcknowledgement(event.update().status());
        break;
      case Event::MESSAGE:
        scheduler_.message(driver_, event.message().agent_id(), event.message().executor_id(),
                           event.message().data());
        break;
      case Event::FAILURE:
        scheduler_.failure(driver_, event.failure());
        break;
      case Event::ERROR:
        scheduler_.error(driver_, event.error().message());
        shutdownNow(Error::make("the master sent ERROR: {}", event.error().message()));
        break;
      case Event::HEARTBEAT:
        scheduler_.heartbeat(driver_);
        break;
      default:
        break;  // events this client does not know (inverse offers...) are skipped
    }
  }

  // Sends queued calls in order, once subscribed, on a keep-alive connection.
  asio::awaitable<void> callLoop() {
    callConnection_ = std::make_unique<HttpConnection>(ioc_.get_executor(), tls());
    while (!stopped_) {
      if (calls_.empty() || !streamId_) {
        if (stopAfterCalls_ && calls_.empty()) {
          shutdownNow(Status{});
          break;
        }
        callWakeup_.expires_after(1h);
        co_await callWakeup_.async_wait(kUseErr);
        continue;
      }
      Call call = std::move(calls_.front());
      calls_.pop_front();
      if (frameworkId_) *call.mutable_framework_id() = *frameworkId_;
      co_await sendCall(call);
    }
  }

  asio::awaitable<void> sendCall(const Call& call) {
    HttpHeaders callHeaders = headers(true);
    std::string body = encode(call, options_.encoding);
    std::function<bool()> stopped = [this] { return stopped_; };
    auto response = co_await detail::postCall(*callConnection_, endpoint_, callHeaders, body, stopped);
    if (!response) {
      if (!stopped_) scheduler_.callFailed(driver_, call, "could not reach the master");
    } else if (response->head.status != 202 && response->head.status != 200) {
      scheduler_.callFailed(driver_, call,
                            "HTTP " + std::to_string(response->head.status) + ": " + response->body);
    }
  }

  SchedulerDriver& driver_;
  Scheduler& scheduler_;
  SchedulerOptions options_;
  asio::io_context ioc_;
  asio::steady_timer callWakeup_;
  asio::steady_timer watchdog_;
  std::mt19937_64 rng_;
  detail::Endpoint endpoint_;
  std::unique_ptr<HttpConnection> stream_, callConnection_;
  std::deque<Call> calls_;
  std::optional<std::string> streamId_, pendingStreamId_;
  mutable std::mutex idMutex_;
  std::optional<mesos::v1::FrameworkID> frameworkId_;
  double heartbeatSeconds_ = 15;
  int attempt_ = 0;
  bool stopped_ = false;
  bool stopAfterCalls_ = false;
  Status finalStatus_;
};

SchedulerDriver::SchedulerDriver(Scheduler& scheduler, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(*this, scheduler, std::move(options))) {}

SchedulerDriver::~SchedulerDriver() = default;

Status SchedulerDriver::run() { return impl_->run(); }
void SchedulerDriver::stop(bool teardown) { impl_->stop(teardown); }
std::optional<mesos::v1::FrameworkID> SchedulerDriver::frameworkId() const {
  return impl_->frameworkId();
}
void SchedulerDriver::send(Call call) { impl_->send(std::move(call)); }

void SchedulerDriver::accept(const std::vector<mesos::v1::OfferID>& offers,
                             const std::vector<mesos::v1::Offer::Operation>& operations,
                             const mesos::v1::Filters& filters) {
  Call call;
  call.set_type(Call::ACCEPT);
  auto* accept = call.mutable_accept();
  for (const auto& offer : offers) *accept->add_offer_ids() = offer;
  for (const auto& operation : operations) *accept->add_operations() = operation;
  *accept->mutable_filters() = filters;
  send(std::move(call));
}

void SchedulerDriver::launch(const mesos::v1::OfferID& offer,
                             const std::vector<mesos::v1::TaskInfo>& tasks,
                             const mesos::v1::Filters& filters) {
  mesos::v1::Offer::Operation operation;
  operation.set_type(mesos::v1::Offer::Operation::LAUNCH);
  for (const auto& task : tasks) *operation.mutable_launch()->add_task_infos() = task;
  accept({offer}, {operation}, filters);
}

void SchedulerDriver::launchGroup(const mesos::v1::OfferID& offer,
                                  const mesos::v1::ExecutorInfo& executor,
                                  const mesos::v1::TaskGroupInfo& group,
                                  const mesos::v1::Filters& filters) {
  mesos::v1::Offer::Operation operation;
  operation.set_type(mesos::v1::Offer::Operation::LAUNCH_GROUP);
  *operation.mutable_launch_group()->mutable_executor() = executor;
  *operation.mutable_launch_group()->mutable_task_group() = group;
  accept({offer}, {operation}, filters);
}

void SchedulerDriver::decline(const std::vector<mesos::v1::OfferID>& offers,
                              const mesos::v1::Filters& filters) {
  Call call;
  call.set_type(Call::DECLINE);
  for (const auto& offer : offers) *call.mutable_decline()->add_offer_ids() = offer;
  *call.mutable_decline()->mutable_filters() = filters;
  send(std::move(call));
}

void SchedulerDriver::revive(const std::vector<std::string>& roles) {
  Call call;
  call.set_type(Call::REVIVE);
  for (const auto& role : roles) call.mutable_revive()->add_roles(role);
  send(std::move(call));
}

void SchedulerDriver::suppress(const std::vector<std::string>& roles) {
  Call call;
  call.set_type(Call::SUPPRESS);
  for (const auto& role : roles) call.mutable_suppress()->add_roles(role);
  send(std::move(call));
}

void SchedulerDriver::kill(const mesos::v1::TaskID& task,
                           const std::optional<mesos::v1::AgentID>& agent,
                           const std::optional<mesos::v1::KillPolicy>& policy) {
  Call call;
  call.set_type(Call::KILL);
  *call.mutable_kill()->mutable_task_id() = task;
  if (agent) *call.mutable_kill()->mutable_agent_id() = *agent;
  if (policy) *call.mutable_kill()->mutable_kill_policy() = *policy;
  send(std::move(call));
}

void SchedulerDriver::shutdown(const mesos::v1::ExecutorID& executor,
                               const mesos::v1::AgentID& agent) {
  Call call;
  call.set_type(Call::SHUTDOWN);
  *call.mutable_shutdown()->mutable_executor_id() = executor;
  *call.mutable_shutdown()->mutable_agent_id() = agent;
  send(std::move(call));
}

void SchedulerDriver::acknowledge(const mesos::v1::TaskStatus& status) {
  if (!status.has_uuid() || status.uuid().empty()) return;
  Call call;
  call.set_type(Call::ACKNOWLEDGE);
  *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
  *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
  call.mutable_acknowledge()->set_uuid(status.uuid());
  send(std::move(call));
}

void SchedulerDriver::reconcile(const std::vector<mesos::v1::TaskStatus>& tasks) {
  Call call;
  call.set_type(Call::RECONCILE);
  auto* reconcile = call.mutable_reconcile();
  for (const auto& status : tasks) {
    auto* task = reconcile->add_tasks();
    *task->mutable_task_id() = status.task_id();
    if (status.has_agent_id()) *task->mutable_agent_id() = status.agent_id();
  }
  send(std::move(call));
}

void SchedulerDriver::message(const mesos::v1::AgentID& agent,
                              const mesos::v1::ExecutorID& executor, const std::string& data) {
  Call call;
  call.set_type(Call::MESSAGE);
  *call.mutable_message()->mutable_agent_id() = agent;
  *call.mutable_message()->mutable_executor_id() = executor;
  call.mutable_message()->set_data(data);
  send(std::move(call));
}

void SchedulerDriver::request(const std::vector<mesos::v1::Request>& requests) {
  Call call;
  call.set_type(Call::REQUEST);
  for (const auto& request : requests) *call.mutable_request()->add_requests() = request;
  send(std::move(call));
}

void SchedulerDriver::teardown() {
  Call call;
  call.set_type(Call::TEARDOWN);
  send(std::move(call));
}

}  // namespace nucleo::sdk
