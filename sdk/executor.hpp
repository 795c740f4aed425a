#pragma once
// A C++ client of the Mesos v1 executor HTTP API (POST /api/v1/executor on
// the agent): an executor written with it runs under nucleo-agent or a Mesos
// agent unchanged.
//
//   class Sleeper : public nucleo::sdk::Executor {
//     void launch(nucleo::sdk::ExecutorDriver& driver, const mesos::v1::TaskInfo& task) override {
//       driver.sendStatus(task.task_id(), mesos::v1::TASK_RUNNING);
//       // ... run the task, then:
//       driver.sendStatus(task.task_id(), mesos::v1::TASK_FINISHED);
//     }
//     void shutdown(nucleo::sdk::ExecutorDriver& driver) override { driver.stop(); }
//   };
//   auto options = nucleo::sdk::ExecutorOptions::fromEnvironment();  // MESOS_* variables
//   if (!options) return 1;
//   Sleeper executor;
//   nucleo::sdk::ExecutorDriver driver(executor, *options);
//   return driver.run() ? 0 : 1;
//
// Threading: callbacks run on the driver's thread, one at a time; the call
// methods are thread-safe.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/executor/executor.pb.h"
#include "sdk/scheduler.hpp"

namespace nucleo::sdk {

struct ExecutorOptions {
  std::string agentEndpoint;  // host:port (MESOS_AGENT_ENDPOINT)
  mesos::v1::FrameworkID frameworkId;  // MESOS_FRAMEWORK_ID
  mesos::v1::ExecutorID executorId;    // MESOS_EXECUTOR_ID
  std::string sandbox;                 // MESOS_SANDBOX (else MESOS_DIRECTORY)
  // With checkpointing (MESOS_CHECKPOINT=1) a lost agent is waited for up to
  // recoveryTimeout, re-subscribing with backoff; without it the executor
  // shuts down, as Mesos's executor library does.
  bool checkpoint = false;
  std::chrono::milliseconds recoveryTimeout{std::chrono::minutes(15)};
  std::chrono::milliseconds subscriptionBackoffMax{2000};
  std::chrono::milliseconds shutdownGracePeriod{5000};
  Encoding encoding = Encoding::Json;

  // Reads the variables the agent sets; the error names a missing or bad one.
  static Result<ExecutorOptions> fromEnvironment();
};

class ExecutorDriver;

// Callbacks; every one has an empty default except that shutdown() stops the
// driver, and launchGroup() (a LAUNCH_GROUP, sent when the scheduler's
// LAUNCH_GROUP names this executor, type CUSTOM) answers each task TASK_ERROR
// "this executor does not run task groups", unless overridden.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void connected(ExecutorDriver&) {}
  virtual void disconnected(ExecutorDriver&, const std::string& /*why*/) {}
  virtual void subscribed(ExecutorDriver&, const mesos::v1::executor::Event::Subscribed&) {}
  virtual void launch(ExecutorDriver&, const mesos::v1::TaskInfo&) {}
  virtual void launchGroup(ExecutorDriver& driver, const mesos::v1::TaskGroupInfo& group);
  virtual void kill(ExecutorDriver&, const mesos::v1::TaskID&,
                    const std::optional<mesos::v1::KillPolicy>&) {}
  virtual void acknowledged(ExecutorDriver&, const mesos::v1::TaskID&, const std::string& /*uuid*/) {}
  virtual void message(ExecutorDriver&, const std::string& /*data*/) {}
  virtual void shutdown(ExecutorDriver& driver);
  virtual void error(ExecutorDriver&, const std::string& /*message*/) {}
  virtual void heartbeat(ExecutorDriver&) {}
};

class ExecutorDriver {
 public:
  ExecutorDriver(Executor& executor, ExecutorOptions options);
  ~ExecutorDriver();
  ExecutorDriver(const ExecutorDriver&) = delete;
  ExecutorDriver& operator=(const ExecutorDriver&) = delete;

  // Runs until stop(), or until the agent is lost for good; the error says
  // why when it was not stop().
  Status run();
  void stop();

  // Sends a status update: the driver sets uuid, source, executor id and
  // timestamp, and resends it on re-subscription until the agent
  // acknowledges it.
  void update(mesos::v1::TaskStatus status);
  void sendStatus(const mesos::v1::TaskID& task, mesos::v1::TaskState state,
                  const std::string& message = "");
  // A message to the scheduler (Event::MESSAGE there).
  void message(const std::string& data);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nucleo::sdk
