#pragma once
// A C++ client of the Mesos v1 scheduler HTTP API (nucleo-master, or Mesos
// itself): subscribes, calls back a Scheduler on every event, and keeps the
// subscription alive — it re-connects and re-subscribes with its framework id
// after a lost connection, a master restart or missed heartbeats.
//
//   class Echo : public nucleo::sdk::Scheduler {
//     void offers(nucleo::sdk::SchedulerDriver& driver,
//                 const std::vector<mesos::v1::Offer>& offers) override {
//       for (const auto& offer : offers) driver.decline({offer.id()});
//     }
//   };
//   nucleo::sdk::SchedulerOptions options;
//   options.master = "127.0.0.1:5050";
//   options.framework.set_user("root");
//   options.framework.set_name("echo");
//   Echo scheduler;
//   nucleo::sdk::SchedulerDriver driver(scheduler, options);
//   nucleo::Status stopped = driver.run();  // until stop() or an ERROR event
//
// Threading: callbacks run on the driver's own thread, one at a time; the
// call methods are thread-safe and may be called from callbacks.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace nucleo::sdk {

enum class Encoding { Json, Protobuf };

// True for the states after which a task's status never changes (FINISHED,
// FAILED, KILLED, ERROR, LOST, DROPPED, GONE, GONE_BY_OPERATOR).
bool isTerminal(mesos::v1::TaskState state);

struct Credential {
  std::string principal;
  std::string secret;
};

struct SchedulerOptions {
  std::string master = "127.0.0.1:5050";  // host:port
  mesos::v1::FrameworkInfo framework;     // id set: re-subscribe as that framework
  Encoding encoding = Encoding::Json;
  // Acknowledge every update carrying a uuid after the update() callback
  // returns (as Mesos's scheduler library does by default).
  bool implicitAcknowledgements = true;
  std::optional<Credential> credential;  // HTTP Basic, when the master wants it
  bool tls = false;                      // https to the master
  std::string caFile;                    // verify the master against this CA (tls)
  // Re-subscription backoff: doubles from min to max, with jitter.
  std::chrono::milliseconds backoffMin{250};
  std::chrono::milliseconds backoffMax{8000};
  // The stream is considered lost after this many heartbeat intervals
  // without any event.
  int missedHeartbeats = 3;
};

class SchedulerDriver;

// Callbacks; every one has an empty default.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // The TCP connection to the master is up (SUBSCRIBE is being sent).
  virtual void connected(SchedulerDriver&) {}
  // The subscription was lost; the driver re-connects unless stopped.
  virtual void disconnected(SchedulerDriver&, const std::string& /*why*/) {}
  virtual void subscribed(SchedulerDriver&, const mesos::v1::scheduler::Event::Subscribed&) {}
  virtual void offers(SchedulerDriver&, const std::vector<mesos::v1::Offer>&) {}
  virtual void rescind(SchedulerDriver&, const mesos::v1::OfferID&) {}
  virtual void update(SchedulerDriver&, const mesos::v1::TaskStatus&) {}
  virtual void message(SchedulerDriver&, const mesos::v1::AgentID&, const mesos::v1::ExecutorID&,
                       const std::string& /*data*/) {}
  virtual void failure(SchedulerDriver&, const mesos::v1::scheduler::Event::Failure&) {}
  // An ERROR event (e.g. the framework was removed): the driver stops.
  virtual void error(SchedulerDriver&, const std::string& /*message*/) {}
  virtual void heartbeat(SchedulerDriver&) {}
  // A call the master refused (HTTP status and body), or that failed to send.
  virtual void callFailed(SchedulerDriver&, const mesos::v1::scheduler::Call&,
                          const std::string& /*why*/) {}
};

class SchedulerDriver {
 public:
  SchedulerDriver(Scheduler& scheduler, SchedulerOptions options);
  ~SchedulerDriver();
  SchedulerDriver(const SchedulerDriver&) = delete;
  SchedulerDriver& operator=(const SchedulerDriver&) = delete;

  // Runs until stop() or an ERROR event; returns the reason it stopped
  // (ok after stop()).
  Status run();
  // Ends run(): closes the subscription (the framework stays registered
  // until its failover_timeout), or with `teardown` removes it first.
  void stop(bool teardown = false);

  // The framework id once subscribed (kept across re-subscriptions).
  std::optional<mesos::v1::FrameworkID> frameworkId() const;

  // Calls. Each is queued and sent in order on the call connection; a refusal
  // is reported through Scheduler::callFailed.
  void accept(const std::vector<mesos::v1::OfferID>& offers,
              const std::vector<mesos::v1::Offer::Operation>& operations,
              const mesos::v1::Filters& filters = {});
  void launch(const mesos::v1::OfferID& offer, const std::vector<mesos::v1::TaskInfo>& tasks,
              const mesos::v1::Filters& filters = {});
  void launchGroup(const mesos::v1::OfferID& offer, const mesos::v1::ExecutorInfo& executor,
                   const mesos::v1::TaskGroupInfo& group, const mesos::v1::Filters& filters = {});
  void decline(const std::vector<mesos::v1::OfferID>& offers,
               const mesos::v1::Filters& filters = {});
  void revive(const std::vector<std::string>& roles = {});
  void suppress(const std::vector<std::string>& roles = {});
  void kill(const mesos::v1::TaskID& task, const std::optional<mesos::v1::AgentID>& agent = {},
            const std::optional<mesos::v1::KillPolicy>& policy = {});
  void shutdown(const mesos::v1::ExecutorID& executor, const mesos::v1::AgentID& agent);
  // Needed only with implicitAcknowledgements off; statuses without a uuid
  // are ignored.
  void acknowledge(const mesos::v1::TaskStatus& status);
  // Explicit (tasks given) or implicit (none) reconciliation.
  void reconcile(const std::vector<mesos::v1::TaskStatus>& tasks = {});
  void message(const mesos::v1::AgentID& agent, const mesos::v1::ExecutorID& executor,
               const std::string& data);
  void request(const std::vector<mesos::v1::Request>& requests);
  void teardown();
  // Any call (its framework_id is filled in).
  void send(mesos::v1::scheduler::Call call);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nucleo::sdk
