// The agent's reactions to the master: running tasks (command executor,
// custom executors, task groups as pods), kills, acknowledgements, shutdowns.

#include "agent/agent.hpp"
#include "agent/containers/isolation.hpp"
#include "agent/containers/task_network.hpp"

#include <sys/wait.h>

#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/logging.hpp"
#include "base/sha256.hpp"

namespace nucleo::agent {

namespace {

using mesos::v1::TaskStatus;
using AgentEvent = nucleo::agent::Event;

constexpr const char* kKindLabel = "nucleo_executor_kind";
constexpr const char* kGroupLabel = "nucleo_task_group";  // read back in agent_recover.cpp

void setLabel(mesos::v1::TaskInfo& task, const std::string& key, const std::string& value) {
  auto* label = task.mutable_labels()->add_labels();
  label->set_key(key);
  label->set_value(value);
}

double nowSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Sums scalar resources by name; ranges and sets are kept as they come.
std::vector<mesos::v1::Resource> mergeScalars(const std::vector<mesos::v1::Resource>& in) {
  std::vector<mesos::v1::Resource> out;
  std::map<std::string, size_t> index;
  for (const auto& r : in) {
    if (r.type() != mesos::v1::Value::SCALAR) {
      out.push_back(r);
      continue;
    }
    auto it = index.find(r.name());
    if (it == index.end()) {
      index[r.name()] = out.size();
      out.push_back(r);
    } else {
      auto* s = out[it->second].mutable_scalar();
      s->set_value(s->value() + r.scalar().value());
    }
  }
  return out;
}

double scalar(const google::protobuf::RepeatedPtrField<mesos::v1::Resource>& rs,
              const std::string& name) {
  double total = 0;
  for (const auto& r : rs)
    if (r.name() == name && r.type() == mesos::v1::Value::SCALAR) total += r.scalar().value();
  return total;
}

}  // namespace

std::string describeExit(int waitStatus) {
  if (WIFEXITED(waitStatus))
    return fmt::format("Command exited with status {}", WEXITSTATUS(waitStatus));
  if (WIFSIGNALED(waitStatus))
    return fmt::format("Command terminated with signal {}", ::strsignal(WTERMSIG(waitStatus)));
  return fmt::format("Command ended with wait status {}", waitStatus);
}

Agent::Agent(AgentOptions options, std::vector<mesos::v1::Resource> resources,
             std::vector<mesos::v1::Attribute> attributes, AgentDeps deps)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      paths_(options_.workDir + "/meta"),
      updates_({options_.statusUpdateRetryMin, options_.statusUpdateRetryMax}, *deps_.clock,
               [this](const mesos::v1::FrameworkID& fw, const TaskStatus& status) {
                 nucleo::agent::Call call;
                 call.set_type(nucleo::agent::Call::STATUS_UPDATE);
                 call.mutable_agent_id()->set_value(agentId_);
                 *call.mutable_status_update()->mutable_framework_id() = fw;
                 *call.mutable_status_update()->mutable_status() = status;
                 if (deps_.toMaster) deps_.toMaster(call);
               }) {
  info_.set_hostname(options_.hostname);
  info_.set_port(options_.port);
  for (auto& r : resources) *info_.add_resources() = std::move(r);
  for (auto& a : attributes) *info_.add_attributes() = std::move(a);
  updates_.pause();
}

nucleo::agent::Call Agent::registerCall() const {
  nucleo::agent::Call call;
  call.set_type(nucleo::agent::Call::REGISTER);
  auto* reg = call.mutable_register_();
  *reg->mutable_agent_info() = info_;
  if (!agentId_.empty()) reg->mutable_agent_info()->mutable_id()->set_value(agentId_);
  reg->set_version("1.11.0");
  reportIsolation(options_.isolation, reg);
  for (const auto& [fwId, fw] : frameworks_) {
    for (const auto& [exId, ex] : fw.executors) {
      for (const auto& [taskId, task] : ex.tasks) {
        if (updates_.done(fwId, taskId) && isTerminal(task.state)) continue;
        auto t = taskOf(ex, task);
        // The master learns a terminal state from the pending update itself:
        // reported here, it would be taken for a task that vanished.
        auto acked = updates_.lastAcked(fwId, taskId);
        t.set_state(acked ? acked->state() : mesos::v1::TASK_STAGING);
        if (isTerminal(t.state())) continue;
        *reg->add_tasks() = std::move(t);
      }
    }
  }
  return call;
}

void Agent::registered(const AgentEvent::Registered& registered) {
  const std::string& id = registered.agent_id().value();
  if (id != agentId_) {
    if (!agentId_.empty())
      logging::get("agent")->warn("master gave a new agent id old={} new={}", agentId_, id);
    agentId_ = id;
    info_.mutable_id()->set_value(id);
    if (auto s = checkpointAgent(paths_, info_); !s)
      logging::get("agent")->error("checkpoint agent info: {}", s.error().message);
  }
  registered_ = true;
  updates_.resume();
  logging::get("agent")->info("registered agent_id={} pending_updates={}", id, updates_.pending());
}

void Agent::disconnected() {
  if (registered_) logging::get("agent")->warn("master link lost");
  registered_ = false;
  updates_.pause();
}

void Agent::handleEvent(const AgentEvent& event) {
  switch (event.type()) {
    case AgentEvent::RUN_TASK: runTask(event.run_task()); break;
    case AgentEvent::RUN_TASK_GROUP: runTaskGroup(event.run_task_group()); break;
    case AgentEvent::KILL_TASK: killTask(event.kill_task()); break;
    case AgentEvent::ACKNOWLEDGE: acknowledge(event.acknowledge()); break;
    case AgentEvent::SHUTDOWN_EXECUTOR: {
      auto fw = frameworks_.find(event.shutdown_executor().framework_id().value());
      if (fw == frameworks_.end()) break;
      auto ex = fw->second.executors.find(event.shutdown_executor().executor_id().value());
      if (ex != fw->second.executors.end())
        shutdownExecutor(fw->second, ex->second, "shutdown requested by the master");
      break;
    }
    case AgentEvent::SHUTDOWN_FRAMEWORK:
      shutdownFramework(event.shutdown_framework().framework_id().value());
      break;
    case AgentEvent::FRAMEWORK_MESSAGE: {
      const auto& m = event.framework_message();
      auto fw = frameworks_.find(m.framework_id().value());
      if (fw == frameworks_.end()) break;
      auto ex = fw->second.executors.find(m.executor_id().value());
      if (ex == fw->second.executors.end()) break;
      mesos::v1::executor::Event out;
      out.set_type(mesos::v1::executor::Event::MESSAGE);
      out.mutable_message()->set_data(m.data());
      sendToExecutor(ex->second, out);
      break;
    }
    case AgentEvent::SHUTDOWN: shutdownAgent(event.shutdown().message()); break;
    default: break;  // REGISTERED and PING belong to the link
  }
}

Status Agent::validateTask(const FwRec* fw, const mesos::v1::TaskInfo& task) const {
  TRY(validatePathId("task id", task.task_id().value()));
  if (task.has_command() == task.has_executor())
    return Error::make("Task '{}' should have either CommandInfo or ExecutorInfo",
                       task.task_id().value());
  const auto& command = task.has_executor() ? task.executor().command() : task.command();
  if (!command.has_value() || command.value().empty())
    return Error::make("Task '{}' has no command to run (command.value is empty)",
                       task.task_id().value());
  if (task.has_executor())
    TRY(validatePathId("executor id", task.executor().executor_id().value()));
  if (task.has_health_check())
    TRY(validateHealthCheck(task.health_check()).context("Task '{}' health_check",
                                                         task.task_id().value()));
  const auto* container = task.has_container() ? &task.container()
                          : task.has_executor() && task.executor().has_container() ? &task.executor().container()
                                                                                   : nullptr;
  if (container) {
    std::vector<mesos::v1::Resource> resources(task.resources().begin(), task.resources().end());
    TRY(taskNetwork(*container, "bridge").context("Task '{}'", task.task_id().value()));
    TRY(validatePortMappings(*container, resources).context("Task '{}'", task.task_id().value()));
  }
  double cpus = 0, mem = 0, disk = 0;
  if (fw) {
    for (const auto& [exId, ex] : fw->executors)
      if (ex.tasks.count(task.task_id().value()))
        return Error::make("Task '{}' already exists", task.task_id().value());
  }
  for (const auto& [fwId, f] : frameworks_)
    for (const auto& [exId, ex] : f.executors)
      for (const auto& [taskId, t] : ex.tasks) {
        if (isTerminal(t.state)) continue;
        cpus += scalar(t.info.resources(), "cpus");
        mem += scalar(t.info.resources(), "mem");
        disk += scalar(t.info.resources(), "disk");
      }
  for (auto [name, used] : {std::pair{"cpus", cpus}, {"mem", mem}, {"disk", disk}}) {
    double want = scalar(task.resources(), name);
    double total = scalar(info_.resources(), name);
    if (want > 0 && used + want > total + 1e-9)
      return Error::make("Task '{}' needs {} {} but the agent has {} of {} free",
                         task.task_id().value(), want, name, total - used, total);
  }
  return {};
}

void Agent::rejectTask(const std::string& frameworkId, const mesos::v1::TaskInfo& task,
                       mesos::v1::TaskState state, TaskStatus::Reason reason,
                       const std::string& message) {
  logging::get("agent")->warn("task rejected framework_id={} task_id={} state={}: {}",
                              frameworkId, task.task_id().value(),
                              mesos::v1::TaskState_Name(state), message);
  TaskStatus status;
  *status.mutable_task_id() = task.task_id();
  status.set_state(state);
  status.set_reason(reason);
  status.set_message(message);
  status.set_source(TaskStatus::SOURCE_AGENT);
  status.mutable_agent_id()->set_value(agentId_);
  status.set_timestamp(nowSeconds());
  ++terminalCounts_[state];
  mesos::v1::FrameworkID fw;
  fw.set_value(frameworkId);
  auto existing = updates_.latest(frameworkId, task.task_id().value());
  if (existing) {
    // A duplicate id: its stream belongs to the other task. Sent once,
    // without uuid, like the master's own rejections.
    nucleo::agent::Call call;
    call.set_type(nucleo::agent::Call::STATUS_UPDATE);
    call.mutable_agent_id()->set_value(agentId_);
    *call.mutable_status_update()->mutable_framework_id() = fw;
    *call.mutable_status_update()->mutable_status() = status;
    if (deps_.toMaster && registered_) deps_.toMaster(call);
    return;
  }
  if (auto s = updates_.update(fw, status); !s)
    logging::get("agent")->error("status update: {}", s.error().message);
}

Agent::FwRec& Agent::ensureFramework(const mesos::v1::FrameworkInfo& info) {
  FwRec& fw = frameworks_[info.id().value()];
  if (fw.info.SerializeAsString() != info.SerializeAsString()) {
    fw.info = info;
    if (auto s = checkpointFramework(paths_, agentId_, info); !s)
      logging::get("agent")->error("checkpoint framework: {}", s.error().message);
  }
  return fw;
}

std::string Agent::sandboxPath(const std::string& fw, const std::string& ex,
                               const std::string& container) const {
  return fmt::format("{}/slaves/{}/frameworks/{}/executors/{}/runs/{}", options_.workDir,
                     agentId_, fw, ex, container);
}

std::string Agent::updatesPath(const ExecRec& ex, const std::string& taskId) const {
  return paths_.taskUpdates(agentId_, ex.frameworkId, ex.info.executor_id().value(),
                            ex.containerId, taskId);
}

Result<Agent::ExecRec*> Agent::newExecutor(FwRec& fw, Kind kind,
                                           const mesos::v1::ExecutorInfo& info) {
  const std::string fwId = fw.info.id().value();
  const std::string exId = info.executor_id().value();
  ExecRec ex;
  ex.kind = kind;
  ex.info = info;
  ex.frameworkId = fwId;
  ex.containerId = uuidToString(randomUuid());
  ex.sandbox = sandboxPath(fwId, exId, ex.containerId);
  mesos::v1::ExecutorInfo stored = info;
  auto* label = stored.mutable_labels()->add_labels();
  label->set_key(kKindLabel);
  label->set_value(kind == Kind::Command ? "command" : kind == Kind::Custom ? "custom" : "group");
  TRY(fs::makeDirs(ex.sandbox, 0755).context("sandbox"));
  TRY(replaceSymlink(ex.containerId, ex.sandbox.substr(0, ex.sandbox.rfind('/')) + "/latest"));
  TRY(checkpointExecutor(paths_, agentId_, fwId, stored, ex.containerId));
  auto old = fw.executors.find(exId);
  if (old != fw.executors.end()) {
    for (const auto& [taskId, task] : old->second.tasks) updates_.erase(fwId, taskId);
    fw.executors.erase(old);
  }
  if (kind != Kind::Group) containers_[ex.containerId] = Owner{fwId, exId, ""};
  return &(fw.executors[exId] = std::move(ex));
}

void Agent::runTask(const AgentEvent::RunTask& run) {
  const auto& task = run.task();
  const std::string fwId = run.framework().id().value();
  if (auto s = validatePathId("framework id", fwId); !s) {
    logging::get("agent")->warn("RUN_TASK ignored: {}", s.error().message);
    return;
  }
  auto found = frameworks_.find(fwId);
  if (auto s = validateTask(found == frameworks_.end() ? nullptr : &found->second, task); !s)
    return rejectTask(fwId, task, mesos::v1::TASK_ERROR, TaskStatus::REASON_TASK_INVALID,
                      s.error().message);
  FwRec& fw = ensureFramework(run.framework());
  ExecRec* ex = nullptr;
  if (task.has_executor()) {
    auto it = fw.executors.find(task.executor().executor_id().value());
    if (it != fw.executors.end() && it->second.phase != Phase::Terminated) {
      if (it->second.phase == Phase::Terminating || it->second.kind != Kind::Custom)
        return rejectTask(fwId, task, mesos::v1::TASK_DROPPED, TaskStatus::REASON_EXECUTOR_TERMINATED,
                          "Executor is terminating or is not a custom executor");
      ex = &it->second;
    } else {
      auto created = newExecutor(fw, Kind::Custom, task.executor());
      if (!created)
        return rejectTask(fwId, task, mesos::v1::TASK_FAILED,
                          TaskStatus::REASON_CONTAINER_LAUNCH_FAILED, created.error().message);
      ex = *created;
      ex->tasks[task.task_id().value()].info = task;
      launchExecutor(fw, *ex);
    }
  } else {
    mesos::v1::ExecutorInfo info;
    *info.mutable_executor_id()->mutable_value() = task.task_id().value();
    *info.mutable_framework_id() = run.framework().id();
    *info.mutable_command() = task.command();
    info.set_name(fmt::format("Command Executor (Task: {})", task.task_id().value()));
    if (task.has_container()) *info.mutable_container() = task.container();
    auto created = newExecutor(fw, Kind::Command, info);
    if (!created)
      return rejectTask(fwId, task, mesos::v1::TASK_FAILED,
                        TaskStatus::REASON_CONTAINER_LAUNCH_FAILED, created.error().message);
    ex = *created;
  }
  TaskRec& rec = ex->tasks[task.task_id().value()];
  rec.info = task;
  ++tasksLaunched_;
  if (auto s = checkpointTask(paths_, agentId_, fwId, ex->info.executor_id().value(),
                              ex->containerId, task); !s)
    logging::get("agent")->error("checkpoint task: {}", s.error().message);
  if (ex->kind == Kind::Command) return launchCommand(fw, *ex, task.task_id().value());
  ex->queued.push_back(task.task_id().value());
  if (ex->channel) deliverQueued(fw, *ex);
}

bool isCustomGroupExecutor(const mesos::v1::ExecutorInfo& info) {
  return info.type() == mesos::v1::ExecutorInfo::CUSTOM && info.has_command();
}

Status Agent::validateGroup(const FwRec* fw, const AgentEvent::RunTaskGroup& run,
                            bool custom) const {
  const auto& executor = run.executor();
  TRY(validatePathId("executor id", executor.executor_id().value()));
  if (run.task_group().tasks().empty()) return Error::make("Task group has no tasks");
  if (custom && executor.command().value().empty())
    return Error::make("Executor '{}' has no command to run (command.value is empty)",
                       executor.executor_id().value());
  std::set<std::string> seen;
  for (const auto& task : run.task_group().tasks()) {
    if (!seen.insert(task.task_id().value()).second)
      return Error::make("Task '{}' appears twice in the task group", task.task_id().value());
    mesos::v1::TaskInfo probe = task;
    probe.clear_executor();
    TRY(validateTask(fw, probe));
  }
  if (!fw) return {};
  auto ex = fw->executors.find(executor.executor_id().value());
  if (ex == fw->executors.end() || ex->second.phase == Phase::Terminated) return {};
  // A running executor of the same kind takes further groups.
  bool reusable = custom ? ex->second.kind == Kind::Custom && ex->second.phase != Phase::Terminating
                         : ex->second.kind == Kind::Group && ex->second.phase == Phase::Running;
  if (!reusable) return Error::make("Executor '{}' is busy or terminating", ex->first);
  return {};
}

Result<Agent::ExecRec*> Agent::groupExecutor(FwRec& fw, const mesos::v1::ExecutorInfo& info,
                                             bool custom) {
  auto it = fw.executors.find(info.executor_id().value());
  if (it != fw.executors.end() && it->second.phase != Phase::Terminated) return &it->second;
  return newExecutor(fw, custom ? Kind::Custom : Kind::Group, info);
}

void Agent::runTaskGroup(const AgentEvent::RunTaskGroup& run) {
  const std::string fwId = run.framework().id().value();
  if (!validatePathId("framework id", fwId)) return;
  auto found = frameworks_.find(fwId);
  const FwRec* existing = found == frameworks_.end() ? nullptr : &found->second;
  bool custom = isCustomGroupExecutor(run.executor());
  if (Status valid = validateGroup(existing, run, custom); !valid) {
    for (const auto& task : run.task_group().tasks())
      rejectTask(fwId, task, mesos::v1::TASK_ERROR, TaskStatus::REASON_TASK_GROUP_INVALID,
                 valid.error().message);
    return;
  }
  FwRec& fw = ensureFramework(run.framework());
  auto created = groupExecutor(fw, run.executor(), custom);
  if (!created) {
    for (const auto& task : run.task_group().tasks())
      rejectTask(fwId, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                 created.error().message);
    return;
  }
  ExecRec* rec = *created;
  bool launchNow = custom && rec->phase == Phase::Launching && rec->live.empty();
  const std::string group = run.task_group().tasks(0).task_id().value();
  std::vector<std::string> ids;
  for (const auto& task : run.task_group().tasks()) {
    TaskRec& t = rec->tasks[task.task_id().value()];
    t.info = task;
    *t.info.mutable_executor() = run.executor();
    if (custom) t.group = group;
    ++tasksLaunched_;
    // The group is remembered on disk so that a recovered agent still
    // delivers its undelivered tasks as one LAUNCH_GROUP.
    mesos::v1::TaskInfo stored = t.info;
    if (custom) setLabel(stored, kGroupLabel, group);
    if (auto s = checkpointTask(paths_, agentId_, fwId, rec->info.executor_id().value(),
                                rec->containerId, stored); !s)
      logging::get("agent")->error("checkpoint task: {}", s.error().message);
    ids.push_back(task.task_id().value());
  }
  if (!custom) return launchGroupTasks(fw, *rec, std::move(ids));
  rec->queued.insert(rec->queued.end(), ids.begin(), ids.end());
  if (launchNow) launchExecutor(fw, *rec);
  if (rec->channel) deliverQueued(fw, *rec);
}

std::string groupContainerId(const std::string& podId, const std::string& taskId) {
  return podId + "." + Sha256::hex(taskId).substr(0, 16);
}

ContainerLaunch Agent::taskLaunch(const ExecRec& ex, const TaskRec& task,
                                  const std::string& containerId) const {
  ContainerLaunch launch;
  launch.containerId = containerId;
  launch.sandbox = ex.sandbox;
  launch.command = task.info.command();
  if (task.info.has_container()) launch.container = task.info.container();
  std::vector<mesos::v1::Resource> resources(task.info.resources().begin(),
                                             task.info.resources().end());
  launch.resources = mergeScalars(resources);
  auto& env = launch.environment;
  env["MESOS_TASK_ID"] = task.info.task_id().value();
  env["MESOS_FRAMEWORK_ID"] = ex.frameworkId;
  env["MESOS_EXECUTOR_ID"] = ex.info.executor_id().value();
  env["MESOS_AGENT_ID"] = agentId_;
  env["MESOS_SLAVE_ID"] = agentId_;
  env["MESOS_CONTAINER_ID"] = containerId;
  if (ex.kind == Kind::Group) {
    launch.podId = ex.containerId;
    launch.sandbox = ex.sandbox + "/tasks/" + task.info.task_id().value();
  }
  return launch;
}

void Agent::launchCommand(FwRec& fw, ExecRec& ex, const std::string& taskId) {
  TaskRec& task = ex.tasks[taskId];
  task.containerId = ex.containerId;
  ex.live.insert(ex.containerId);
  ContainerLaunch launch = taskLaunch(ex, task, ex.containerId);
  std::vector<mesos::v1::CommandInfo::URI> uris(task.info.command().uris().begin(),
                                                task.info.command().uris().end());
  std::string fwId = fw.info.id().value(), exId = ex.info.executor_id().value();
  auto* backend = deps_.containers;
  auto fetch = deps_.fetch;
  deps_.offload([=, this]() -> std::function<void()> {
    Result<pid_t> result = Error::make("not launched");
    bool fetchFailed = false;
    Status fetched = uris.empty() ? Status{}
                     : fetch      ? fetch(uris, launch.sandbox)
                                  : Status{Error::make("the agent has no fetcher")};
    if (!fetched) {
      fetchFailed = true;
      result = std::move(fetched).error().context("Failed to fetch URIs");
    } else {
      result = backend->launch(launch);
    }
    return [=, this] { launched(fwId, exId, taskId, launch.containerId, result, fetchFailed); };
  });
}

void Agent::launchGroupTasks(FwRec& fw, ExecRec& ex, std::vector<std::string> taskIds) {
  std::vector<ContainerLaunch> launches;
  for (const auto& taskId : taskIds) {
    TaskRec& task = ex.tasks[taskId];
    task.containerId = groupContainerId(ex.containerId, taskId);
    containers_[task.containerId] = Owner{fw.info.id().value(), ex.info.executor_id().value(), taskId};
    ex.live.insert(task.containerId);
    launches.push_back(taskLaunch(ex, task, task.containerId));
    (void)fs::makeDirs(launches.back().sandbox, 0755);
  }
  std::string fwId = fw.info.id().value(), exId = ex.info.executor_id().value();
  std::string podId = ex.containerId;
  bool createPod = ex.phase == Phase::Launching;
  ex.phase = Phase::Running;
  // The pod's network: the executor's network_infos, else the first task's.
  std::optional<mesos::v1::ContainerInfo> network;
  if (ex.info.container().network_infos_size() > 0) network = ex.info.container();
  else if (!launches.empty() && launches[0].container && launches[0].container->network_infos_size() > 0)
    network = launches[0].container;
  auto* backend = deps_.containers;
  deps_.offload([=, this]() -> std::function<void()> {
    Status pod = createPod ? backend->createPod(podId, network) : Status{};
    std::vector<Result<pid_t>> results;
    for (const auto& launch : launches)
      results.push_back(pod ? backend->launch(launch)
                            : Result<pid_t>(Error(pod.error()).context("pod")));
    return [=, this] {
      for (size_t i = 0; i < launches.size(); ++i)
        launched(fwId, exId, taskIds[i], launches[i].containerId, results[i], false);
    };
  });
}

std::map<std::string, std::string> Agent::executorEnvironment(const FwRec& fw,
                                                              const ExecRec& ex) const {
  std::map<std::string, std::string> env;
  env["MESOS_FRAMEWORK_ID"] = ex.frameworkId;
  env["MESOS_EXECUTOR_ID"] = ex.info.executor_id().value();
  env["MESOS_AGENT_ID"] = agentId_;
  env["MESOS_SLAVE_ID"] = agentId_;
  env["MESOS_CONTAINER_ID"] = ex.containerId;
  env["MESOS_DIRECTORY"] = ex.sandbox;
  env["MESOS_AGENT_ENDPOINT"] = fmt::format("{}:{}", options_.ip, info_.port());
  env["MESOS_CHECKPOINT"] = fw.info.checkpoint() ? "1" : "0";
  env["MESOS_HTTP_COMMAND_EXECUTOR"] = "0";
  int64_t grace = ex.info.has_shutdown_grace_period()
                      ? ex.info.shutdown_grace_period().nanoseconds() / 1000000
                      : 5000;
  env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = fmt::format("{}ms", grace);
  env["MESOS_RECOVERY_TIMEOUT"] = "15mins";
  env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs";
  return env;
}

void Agent::launchExecutor(FwRec& fw, ExecRec& ex) {
  ContainerLaunch launch;
  launch.containerId = ex.containerId;
  launch.sandbox = ex.sandbox;
  launch.command = ex.info.command();
  if (ex.info.has_container()) launch.container = ex.info.container();
  std::vector<mesos::v1::Resource> resources(ex.info.resources().begin(),
                                             ex.info.resources().end());
  for (const auto& [id, task] : ex.tasks)
    resources.insert(resources.end(), task.info.resources().begin(), task.info.resources().end());
  launch.resources = mergeScalars(resources);
  launch.environment = executorEnvironment(fw, ex);
  ex.live.insert(ex.containerId);
  std::string fwId = fw.info.id().value(), exId = ex.info.executor_id().value();
  auto* backend = deps_.containers;
  deps_.offload([=, this]() -> std::function<void()> {
    Result<pid_t> result = backend->launch(launch);
    return [=, this] { launched(fwId, exId, "", launch.containerId, result, false); };
  });
}

}  // namespace nucleo::agent
