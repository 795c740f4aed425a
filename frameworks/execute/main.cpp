// nucleo-execute: runs one command (or one task group from a JSON file) on
// the cluster, like mesos-execute: prints the status updates as they come,
// streams the task's stdout/stderr from its sandbox through the agent's
// files API, and exits with the task's exit code.

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include <CLI/CLI.hpp>

#include "base/fs.hpp"
#include "frameworks/common/task_output.hpp"
#include "proto/json.hpp"
#include "sdk/resources.hpp"
#include "sdk/scheduler.hpp"

namespace {

using namespace std::chrono_literals;
using nucleo::sdk::SchedulerDriver;

struct Options {
  std::string master;
  std::string name = "nucleo-execute";
  std::string command;
  std::vector<std::string> arguments;
  std::string taskGroupFile;
  std::string image;
  double cpus = 0.1;
  double mem = 32;
  double disk = 0;
  std::vector<std::string> env;
  std::string role = "*";
  int count = 1;
  bool noShell = false;
  bool showLogs = true;
  std::string principal, secret;
  std::string killAfter;
};

std::string randomSuffix() {
  std::random_device device;
  char buffer[9];
  std::snprintf(buffer, sizeof buffer, "%08x", device());
  return buffer;
}

class Execute : public nucleo::sdk::Scheduler {
 public:
  explicit Execute(Options options) : options_(std::move(options)), output_(options_.count > 1) {}

  nucleo::Status prepare() {
    if (!options_.taskGroupFile.empty()) {
      TRY_ASSIGN(auto text, nucleo::fs::readFile(options_.taskGroupFile));
      if (auto parsed = nucleo::proto::fromJson(text, &group_); !parsed)
        return nucleo::Error::make("--task-group {}: {}", options_.taskGroupFile,
                                   parsed.error().message);
      if (group_.tasks_size() == 0)
        return nucleo::Error::make("--task-group {}: no tasks", options_.taskGroupFile);
      std::string suffix = randomSuffix();
      for (auto& task : *group_.mutable_tasks()) {
        if (task.name().empty()) return nucleo::Error::make("--task-group: a task has no name");
        if (!task.has_task_id()) task.mutable_task_id()->set_value(task.name() + "-" + suffix);
        if (!task.has_command() && options_.command.empty())
          return nucleo::Error::make("--task-group: task '{}' has no command", task.name());
        if (!task.has_container() && !options_.image.empty()) *task.mutable_container() = container();
      }
      expected_ = group_.tasks_size();
      return {};
    }
    if (options_.command.empty()) return nucleo::Error::make("--command or --task-group is required");
    if (options_.count < 1) return nucleo::Error::make("--count must be at least 1");
    expected_ = options_.count;
    return {};
  }

  int exitCode() const { return exitCode_; }

  void subscribed(SchedulerDriver&, const mesos::v1::scheduler::Event::Subscribed& s) override {
    std::fprintf(stderr, "nucleo-execute: subscribed as framework %s\n", s.framework_id().value().c_str());
    frameworkId_ = s.framework_id().value();
  }

  void disconnected(SchedulerDriver&, const std::string& why) override {
    std::fprintf(stderr, "nucleo-execute: lost the master (%s); re-connecting\n", why.c_str());
  }

  void error(SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "nucleo-execute: %s\n", message.c_str());
    exitCode_ = 1;
  }

  void callFailed(SchedulerDriver&, const mesos::v1::scheduler::Call& call,
                  const std::string& why) override {
    std::fprintf(stderr, "nucleo-execute: %s refused: %s\n",
                 mesos::v1::scheduler::Call::Type_Name(call.type()).c_str(), why.c_str());
  }

  void offers(SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    std::lock_guard lock(mutex_);
    for (const auto& offer : offers) {
      if (launchedAll_ || stopping_) {
        driver.decline({offer.id()}, refuse(3600));
        continue;
      }
      auto resources = offer.resources();
      bool launched = group_.tasks_size() > 0 ? launchGroup(driver, offer, &resources)
                                              : launchTasks(driver, offer, &resources);
      if (!launched) driver.decline({offer.id()}, refuse(1));
    }
    if (launchedAll_) driver.suppress();
  }

  void update(SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override {
    const std::string& id = status.task_id().value();
    std::string line = "task " + id + ": " + mesos::v1::TaskState_Name(status.state());
    if (!status.message().empty()) line += " (" + status.message() + ")";
    if (status.has_reason()) line += " [" + mesos::v1::TaskStatus::Reason_Name(status.reason()) + "]";
    std::fprintf(stderr, "nucleo-execute: %s\n", line.c_str());
    std::lock_guard lock(mutex_);
    auto task = tasks_.find(id);
    if (task == tasks_.end()) return;
    if (options_.showLogs &&
        (status.state() == mesos::v1::TASK_RUNNING || status.state() == mesos::v1::TASK_STARTING))
      output_.follow(id, task->second.agent, frameworkId_, task->second.executor);
    if (!nucleo::sdk::isTerminal(status.state()) || task->second.done) return;
    task->second.done = true;
    output_.finish(id);
    recordExit(status);
    if (++finished_ == expected_) driver.stop(/*teardown=*/true);
  }

  // Ctrl-C: kill what runs, then leave.
  void interrupt(SchedulerDriver& driver) {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (tasks_.empty()) {
      exitCode_ = 130;
      driver.stop(true);
      return;
    }
    for (const auto& [id, task] : tasks_) {
      mesos::v1::TaskID taskId;
      taskId.set_value(id);
      driver.kill(taskId, task.agentId);
    }
  }

 private:
  struct Launched {
    std::string agent;     // host:port of its agent
    mesos::v1::AgentID agentId;
    std::string executor;  // executor id (the task id for a command task)
    bool done = false;
  };

  // The first failing task decides; its exit status when the message has it.
  void recordExit(const mesos::v1::TaskStatus& status) {
    int code = 0;
    static const std::regex exited("exited with status (\\d+)");
    static const std::regex signaled("signal (\\d+)");
    std::smatch match;
    switch (status.state()) {
      case mesos::v1::TASK_FINISHED: code = 0; break;
      case mesos::v1::TASK_FAILED:
        if (std::regex_search(status.message(), match, exited)) code = std::stoi(match[1]);
        else if (std::regex_search(status.message(), match, signaled)) code = 128 + std::stoi(match[1]);
        else code = 1;
        if (code == 0) code = 1;
        break;
      case mesos::v1::TASK_KILLED: code = 128 + SIGKILL; break;
      case mesos::v1::TASK_ERROR: code = 65; break;  // the task was invalid
      default: code = 69; break;                     // lost, dropped, gone: unavailable
    }
    if (exitCode_ == 0) exitCode_ = code;
  }

  static mesos::v1::Filters refuse(double seconds) {
    mesos::v1::Filters filters;
    filters.set_refuse_seconds(seconds);
    return filters;
  }

  mesos::v1::ContainerInfo container() const {
    mesos::v1::ContainerInfo info;
    info.set_type(mesos::v1::ContainerInfo::MESOS);
    auto* image = info.mutable_mesos()->mutable_image();
    image->set_type(mesos::v1::Image::DOCKER);
    image->mutable_docker()->set_name(options_.image);
    return info;
  }

  nucleo::sdk::Quantities wanted() const {
    nucleo::sdk::Quantities quantities{{"cpus", options_.cpus}, {"mem", options_.mem}};
    if (options_.disk > 0) quantities["disk"] = options_.disk;
    return quantities;
  }

  mesos::v1::CommandInfo command() const {
    mesos::v1::CommandInfo info;
    info.set_value(options_.command);
    if (options_.noShell) {
      info.set_shell(false);
      info.add_arguments(options_.command);
      for (const auto& argument : options_.arguments) info.add_arguments(argument);
    }
    for (const auto& pair : options_.env) {
      auto* variable = info.mutable_environment()->add_variables();
      auto equals = pair.find('=');
      variable->set_name(pair.substr(0, equals));
      variable->set_value(equals == std::string::npos ? "" : pair.substr(equals + 1));
    }
    return info;
  }

  static std::string endpoint(const mesos::v1::Offer& offer) {
    const auto& address = offer.url().address();
    std::string host = address.ip().empty() ? address.hostname() : address.ip();
    if (host.empty()) host = offer.hostname();
    return host + ":" + std::to_string(address.port() ? address.port() : 5051);
  }

  bool launchTasks(SchedulerDriver& driver, const mesos::v1::Offer& offer,
                   nucleo::sdk::ResourceList* resources) {
    std::vector<mesos::v1::TaskInfo> batch;
    while (launched_ < expected_) {
      auto taken = nucleo::sdk::take(resources, wanted());
      if (!taken) break;
      mesos::v1::TaskInfo task;
      std::string id = options_.name + (expected_ > 1 ? "-" + std::to_string(launched_) : "") + "-" +
                       randomSuffix();
      task.set_name(options_.name);
      task.mutable_task_id()->set_value(id);
      *task.mutable_agent_id() = offer.agent_id();
      for (auto& resource : *taken) *task.add_resources() = std::move(resource);
      *task.mutable_command() = command();
      if (!options_.image.empty()) *task.mutable_container() = container();
      tasks_[id] = Launched{endpoint(offer), offer.agent_id(), id};
      batch.push_back(std::move(task));
      ++launched_;
    }
    if (batch.empty()) return false;
    launchedAll_ = launched_ == expected_;
    driver.launch(offer.id(), batch, refuse(5));
    return true;
  }

  bool launchGroup(SchedulerDriver& driver, const mesos::v1::Offer& offer,
                   nucleo::sdk::ResourceList* resources) {
    auto executorResources = nucleo::sdk::take(resources, {{"cpus", 0.1}, {"mem", 32}});
    if (!executorResources) return false;
    mesos::v1::TaskGroupInfo group = group_;
    for (auto& task : *group.mutable_tasks()) {
      nucleo::sdk::Quantities need = wanted();
      if (task.resources_size() > 0) need = nucleo::sdk::scalars(task.resources());
      auto taken = nucleo::sdk::take(resources, need);
      if (!taken) return false;
      task.clear_resources();
      for (auto& resource : *taken) *task.add_resources() = std::move(resource);
      *task.mutable_agent_id() = offer.agent_id();
      if (!task.has_command()) *task.mutable_command() = command();
    }
    mesos::v1::ExecutorInfo executor;
    executor.set_type(mesos::v1::ExecutorInfo::DEFAULT);
    executor.mutable_executor_id()->set_value(options_.name + "-executor-" + randomSuffix());
    executor.mutable_framework_id()->set_value(frameworkId_);
    for (auto& resource : *executorResources) *executor.add_resources() = std::move(resource);
    for (const auto& task : group.tasks())
      tasks_[task.task_id().value()] =
          Launched{endpoint(offer), offer.agent_id(), executor.executor_id().value()};
    launched_ = expected_;
    launchedAll_ = true;
    driver.launchGroup(offer.id(), executor, group, refuse(5));
    return true;
  }

  Options options_;
  std::mutex mutex_;  // the driver's thread and the signal thread
  nucleo::frameworks::TaskOutput output_;
  mesos::v1::TaskGroupInfo group_;
  std::map<std::string, Launched> tasks_;
  std::string frameworkId_;
  int expected_ = 0, launched_ = 0, finished_ = 0;
  bool launchedAll_ = false;
  std::atomic<bool> stopping_{false};
  int exitCode_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const char* fromEnv = std::getenv("NUCLEO_MASTER");
  options.master = fromEnv != nullptr ? fromEnv : "127.0.0.1:5050";
  CLI::App app{"Runs a command or a task group on a nucleo (or Mesos) cluster and waits for it"};
  app.add_option("--master", options.master, "Master host:port ($NUCLEO_MASTER)")->capture_default_str();
  app.add_option("--name", options.name, "Task name")->capture_default_str();
  app.add_option("--command", options.command, "Command (run by /bin/sh -c unless --no-shell)");
  app.add_option("--task-group", options.taskGroupFile, "JSON file of a TaskGroupInfo to run as a pod");
  app.add_option("--image", options.image, "Container image (e.g. busybox:latest); default: host filesystem");
  app.add_option("--cpus", options.cpus, "CPUs per task")->capture_default_str();
  app.add_option("--mem", options.mem, "Memory per task, MB")->capture_default_str();
  app.add_option("--disk", options.disk, "Disk per task, MB");
  app.add_option("--env", options.env, "Environment variable KEY=VALUE (repeatable)");
  app.add_option("--role", options.role, "Role to run as")->capture_default_str();
  app.add_option("--count", options.count, "Number of copies of the task")->capture_default_str();
  app.add_flag("--no-shell", options.noShell, "Run --command as a program; arguments after --");
  app.add_flag("!--no-logs", options.showLogs, "Do not stream the task's stdout/stderr");
  app.add_option("--principal", options.principal, "Principal for HTTP Basic authentication");
  app.add_option("--secret", options.secret, "Secret for HTTP Basic authentication");
  app.add_option("arguments", options.arguments, "Arguments of --command with --no-shell");
  CLI11_PARSE(app, argc, argv);

  Execute execute(options);
  if (auto prepared = execute.prepare(); !prepared) {
    std::fprintf(stderr, "nucleo-execute: %s\n", prepared.error().message.c_str());
    return 2;
  }
  nucleo::sdk::SchedulerOptions driverOptions;
  driverOptions.master = options.master;
  driverOptions.framework.set_user("root");
  driverOptions.framework.set_name("nucleo-execute " + options.name);
  driverOptions.framework.set_role(options.role);
  driverOptions.framework.set_failover_timeout(0);
  if (!options.principal.empty()) {
    driverOptions.framework.set_principal(options.principal);
    driverOptions.credential = nucleo::sdk::Credential{options.principal, options.secret};
  }
  SchedulerDriver driver(execute, driverOptions);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    timespec poll{0, 200'000'000};
    while (!done) {
      if (sigtimedwait(&signals, nullptr, &poll) > 0) {
        std::fprintf(stderr, "nucleo-execute: interrupted: killing the task\n");
        execute.interrupt(driver);
      }
    }
  });
  nucleo::Status stopped = driver.run();
  done = true;
  interrupter.join();
  if (!stopped) {
    std::fprintf(stderr, "nucleo-execute: %s\n", stopped.error().message.c_str());
    return execute.exitCode() != 0 ? execute.exitCode() : 1;
  }
  return execute.exitCode();
}
