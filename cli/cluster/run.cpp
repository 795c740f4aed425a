// `nucleo cluster run`: one task through a framework of its own. Attached,
// it streams the task's output and leaves with the task's exit code, tearing
// its framework down; detached, it leaves once the task runs and its
// framework stays registered (disconnected) so that the task goes on.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "cli/cluster/commands.hpp"
#include "frameworks/common/task_output.hpp"
#include "sdk/resources.hpp"

namespace nucleo::cluster {
namespace {

using nucleo::sdk::SchedulerDriver;

std::string randomSuffix() {
  std::random_device device;
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08x", device());
  return buffer;
}

mesos::v1::Filters refuse(double seconds) {
  mesos::v1::Filters filters;
  filters.set_refuse_seconds(seconds);
  return filters;
}

std::string offerEndpoint(const mesos::v1::Offer& offer) {
  const auto& address = offer.url().address();
  std::string host = address.ip().empty() ? address.hostname() : address.ip();
  if (host.empty()) host = offer.hostname();
  return host + ":" + std::to_string(address.port() ? address.port() : 5051);
}

class Runner : public nucleo::sdk::Scheduler {
 public:
  explicit Runner(const RunOptions& options)
      : options_(options), taskId_(options.name + "-" + randomSuffix()), output_(false) {}

  int exitCode() const { return exitCode_; }

  void subscribed(SchedulerDriver&, const mesos::v1::scheduler::Event::Subscribed& s) override {
    std::lock_guard lock(mutex_);
    frameworkId_ = s.framework_id().value();
  }

  void disconnected(SchedulerDriver&, const std::string& why) override {
    std::fprintf(stderr, "nucleo cluster: lost the master (%s); re-connecting\n", why.c_str());
  }

  void error(SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "nucleo cluster: %s\n", message.c_str());
    exitCode_ = 1;
  }

  void callFailed(SchedulerDriver& driver, const mesos::v1::scheduler::Call& call,
                  const std::string& why) override {
    std::fprintf(stderr, "nucleo cluster: %s refused: %s\n",
                 mesos::v1::scheduler::Call::Type_Name(call.type()).c_str(), why.c_str());
    if (call.type() == mesos::v1::scheduler::Call::ACCEPT) {
      exitCode_ = 1;
      driver.stop(/*teardown=*/true);
    }
  }

  void offers(SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override;
  void update(SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override;

  // Ctrl-C: kill the task if it was launched (its end then ends the run).
  void interrupt(SchedulerDriver& driver) {
    std::lock_guard lock(mutex_);
    if (agentId_.value().empty()) {
      exitCode_ = 130;
      driver.stop(/*teardown=*/true);
      return;
    }
    mesos::v1::TaskID task;
    task.set_value(taskId_);
    driver.kill(task, agentId_);
  }

 private:
  mesos::v1::TaskInfo taskInfo(const mesos::v1::Offer& offer, std::vector<mesos::v1::Resource> taken) const;

  RunOptions options_;
  std::string taskId_;
  nucleo::frameworks::TaskOutput output_;
  std::mutex mutex_;  // the driver's thread and the signal thread
  std::string frameworkId_, agent_;
  mesos::v1::AgentID agentId_;
  bool following_ = false, done_ = false;
  std::atomic<int> exitCode_{0};
};

mesos::v1::TaskInfo Runner::taskInfo(const mesos::v1::Offer& offer,
                                     std::vector<mesos::v1::Resource> taken) const {
  mesos::v1::TaskInfo task;
  task.set_name(options_.name);
  task.mutable_task_id()->set_value(taskId_);
  *task.mutable_agent_id() = offer.agent_id();
  for (auto& resource : taken) *task.add_resources() = std::move(resource);
  auto* command = task.mutable_command();
  command->set_value(options_.command);
  for (const auto& pair : options_.env) {
    auto* variable = command->mutable_environment()->add_variables();
    auto equals = pair.find('=');
    variable->set_name(pair.substr(0, equals));
    variable->set_value(equals == std::string::npos ? "" : pair.substr(equals + 1));
  }
  if (!options_.image.empty()) {
    auto* container = task.mutable_container();
    container->set_type(mesos::v1::ContainerInfo::MESOS);
    auto* image = container->mutable_mesos()->mutable_image();
    image->set_type(mesos::v1::Image::DOCKER);
    image->mutable_docker()->set_name(options_.image);
  }
  return task;
}

void Runner::offers(SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) {
  std::lock_guard lock(mutex_);
  for (const auto& offer : offers) {
    if (!agentId_.value().empty()) {
      driver.decline({offer.id()}, refuse(3600));
      continue;
    }
    auto resources = offer.resources();
    auto taken = nucleo::sdk::take(&resources, {{"cpus", options_.cpus}, {"mem", options_.mem}});
    if (!taken) {
      driver.decline({offer.id()}, refuse(1));
      continue;
    }
    agentId_ = offer.agent_id();
    agent_ = offerEndpoint(offer);
    driver.launch(offer.id(), {taskInfo(offer, std::move(*taken))}, refuse(5));
    driver.suppress();
    // Detached, stdout is the id alone (for scripts); attached, it is the task's.
    if (options_.detach) std::printf("%s\n", taskId_.c_str()), std::fflush(stdout);
    else std::fprintf(stderr, "nucleo cluster: task %s on agent %s\n", taskId_.c_str(), agent_.c_str());
  }
}

void Runner::update(SchedulerDriver& driver, const mesos::v1::TaskStatus& status) {
  if (status.task_id().value() != taskId_) return;
  std::string line = taskId_ + ": " + mesos::v1::TaskState_Name(status.state());
  if (!status.message().empty()) line += " (" + status.message() + ")";
  std::fprintf(stderr, "nucleo cluster: %s\n", line.c_str());
  std::lock_guard lock(mutex_);
  if (done_) return;
  bool started = status.state() == mesos::v1::TASK_RUNNING || status.state() == mesos::v1::TASK_STARTING;
  if (started && options_.detach && status.state() == mesos::v1::TASK_RUNNING) {
    done_ = true;
    driver.stop(/*teardown=*/false);  // the framework stays, and with it the task
    return;
  }
  if (started && options_.showLogs && !options_.detach && !following_) {
    following_ = true;
    output_.follow(taskId_, agent_, frameworkId_, taskId_);
  }
  if (!terminal(status.state())) return;
  done_ = true;
  if (following_) output_.finish(taskId_);
  exitCode_ = exitCodeOf(status);
  driver.stop(/*teardown=*/true);
}

}  // namespace

int runTask(const OperatorClient& client, const RunOptions& options) {
  if (options.command.empty()) return fail("run: no command (give it after the flags, or --command)");
  if (options.cpus <= 0 || options.mem <= 0)
    return fail("run: --cpus and --mem must be positive");
  // A master that is down is one line, not a driver re-connecting forever.
  if (auto health = client.call(mesos::v1::master::Call::GET_HEALTH); !health)
    return fail(health.error().message);

  // Blocked before any thread starts (the output follower, the driver's), so
  // that Ctrl-C reaches only the thread that waits for it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Runner runner(options);
  nucleo::sdk::SchedulerOptions driverOptions;
  driverOptions.master = client.master();
  driverOptions.credential = client.credential();
  driverOptions.framework.set_user("root");
  driverOptions.framework.set_name(std::string(kRunFrameworkPrefix) + " " + options.name);
  driverOptions.framework.set_role(options.role);
  driverOptions.framework.set_failover_timeout(options.detach ? options.failoverTimeout : 0);
  if (client.credential()) driverOptions.framework.set_principal(client.credential()->principal);
  SchedulerDriver driver(runner, driverOptions);

  std::atomic<bool> finished{false};
  std::thread interrupter([&] {
    timespec poll{0, 200'000'000};
    while (!finished)
      if (sigtimedwait(&signals, nullptr, &poll) > 0) {
        std::fprintf(stderr, "nucleo cluster: interrupted: killing the task\n");
        runner.interrupt(driver);
      }
  });
  nucleo::Status stopped = driver.run();
  finished = true;
  interrupter.join();
  if (!stopped) {
    fail(stopped.error().message);
    return runner.exitCode() != 0 ? runner.exitCode() : 1;
  }
  return runner.exitCode();
}

}  // namespace nucleo::cluster
