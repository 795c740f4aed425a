// The life of a launched container: launch results, exits, kills, status
// updates and acknowledgements, shutdowns, timers.

#include <sys/wait.h>

#include <ctime>
#include <set>

#include <fmt/format.h>

#include "agent/agent.hpp"
#include "agent/containers/task_network.hpp"
#include "base/fs.hpp"
#include "base/logging.hpp"

namespace nucleo::agent {

namespace {

using mesos::v1::TaskStatus;
using ExecutorEvent = mesos::v1::executor::Event;

double nowSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

void Agent::launched(const std::string& frameworkId, const std::string& executorId,
                     const std::string& taskId, const std::string& containerId,
                     const Result<pid_t>& result, bool fetchFailed) {
  auto fw = frameworks_.find(frameworkId);
  if (fw == frameworks_.end()) return;
  auto exIt = fw->second.executors.find(executorId);
  if (exIt == fw->second.executors.end() || !exIt->second.live.count(containerId)) {
    (void)deps_.containers->destroy(containerId);  // shut down while launching
    return;
  }
  ExecRec& ex = exIt->second;
  auto log = logging::get("agent");
  if (!result) {
    log->warn("launch failed framework_id={} executor_id={} container_id={}: {}", frameworkId,
              executorId, containerId, result.error().message);
    (void)deps_.containers->destroy(containerId);
    ex.live.erase(containerId);
    std::string message = result.error().message;
    if (taskId.empty()) {  // the executor itself
      message = "Failed to launch executor: " + message;
      for (auto& [id, task] : ex.tasks)
        if (!isTerminal(task.state))
          sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                     message);
      ex.phase = Phase::Terminated;
    } else {
      sendStatus(ex, ex.tasks[taskId], mesos::v1::TASK_FAILED,
                 TaskStatus::REASON_CONTAINER_LAUNCH_FAILED, message);
    }
    (void)fetchFailed;
    return maybeFinishExecutor(fw->second, ex);
  }
  log->info("container running framework_id={} executor_id={} container_id={} pid={}",
            frameworkId, executorId, containerId, *result);
  watch(containerId);
  if (taskId.empty()) {
    if (ex.phase == Phase::Launching) ex.phase = Phase::Running;
    // An executor may subscribe before its launch is reported.
    if (!ex.channel)
      ex.registrationDeadline = deps_.clock->now() + options_.executorRegistrationTimeout;
    if (ex.phase == Phase::Terminating) (void)deps_.containers->kill(containerId, {});
    return;
  }
  if (ex.kind == Kind::Command) ex.phase = Phase::Running;
  TaskRec& task = ex.tasks[taskId];
  task.launched = true;
  if (task.killing) {
    (void)deps_.containers->kill(containerId, std::chrono::milliseconds(0));
    return;
  }
  sendStatus(ex, task, mesos::v1::TASK_STARTING, std::nullopt, "");
  sendStatus(ex, task, mesos::v1::TASK_RUNNING, std::nullopt, "");
  if (task.info.has_health_check())
    task.health.emplace(task.info.health_check(), deps_.clock->now());
}

void Agent::probeHealth() {
  auto now = deps_.clock->now();
  for (auto& [fwId, fw] : frameworks_)
    for (auto& [exId, ex] : fw.executors)
      for (auto& [taskId, task] : ex.tasks) {
        if (!task.health || task.probing || isTerminal(task.state) || task.killing) continue;
        if (now < task.health->nextProbeAt()) continue;
        task.probing = true;
        auto check = task.info.health_check();
        std::string container = task.containerId.empty() ? ex.containerId : task.containerId;
        // COMMAND probes run inside the task's container, as in Mesos.
        if (check.has_command() && !container.empty())
          *check.mutable_command() = deps_.containers->inContainer(container, check.command());
        // A task on the host's network listens on loopback; one on its own
        // network at its address.
        std::string address = "127.0.0.1";
        if (auto ips = deps_.containers->ipAddresses(container); ips && !ips->empty())
          address = ips->front();
        auto runner = deps_.healthCommand ? deps_.healthCommand : CommandRunner(runHostCommand);
        deps_.offload([=, this, fw = fwId, ex = exId, id = taskId]() -> std::function<void()> {
          bool ok = bool(runProbe(check, address, runner));
          return [=, this] { healthResult(fw, ex, id, ok); };
        });
      }
}

void Agent::healthResult(const std::string& frameworkId, const std::string& executorId,
                         const std::string& taskId, bool healthy) {
  auto fw = frameworks_.find(frameworkId);
  if (fw == frameworks_.end()) return;
  auto ex = fw->second.executors.find(executorId);
  if (ex == fw->second.executors.end()) return;
  auto task = ex->second.tasks.find(taskId);
  if (task == ex->second.tasks.end() || !task->second.health) return;
  TaskRec& t = task->second;
  t.probing = false;
  if (isTerminal(t.state) || t.killing) return;
  HealthVerdict verdict = t.health->record(healthy, deps_.clock->now());
  if (verdict.healthyChanged)
    sendStatus(ex->second, t, mesos::v1::TASK_RUNNING,
               TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, "", *verdict.healthyChanged);
  if (verdict.killTask) {
    logging::get("agent")->info("health check failed, killing task_id={}", taskId);
    nucleo::agent::Event::KillTask kill;
    kill.mutable_framework_id()->set_value(frameworkId);
    kill.mutable_task_id()->set_value(taskId);
    killTask(kill);
  }
}

void Agent::watch(const std::string& containerId) {
  if (!deps_.watchExit) return;
  auto fd = deps_.containers->exitFd(containerId);
  if (!fd) {
    logging::get("agent")->warn("no exit fd container_id={}: {}; polling", containerId,
                                fd.error().message);
    return;
  }
  deps_.watchExit(containerId, std::move(*fd));
}

void Agent::containerExited(const std::string& containerId) {
  auto owner = containers_.find(containerId);
  if (owner == containers_.end()) return;
  auto fw = frameworks_.find(owner->second.frameworkId);
  if (fw == frameworks_.end()) return;
  auto exIt = fw->second.executors.find(owner->second.executorId);
  if (exIt == fw->second.executors.end()) return;
  ExecRec& ex = exIt->second;
  if (!ex.live.count(containerId)) return;
  // A container whose launch is still running belongs to the launcher thread.
  if (ex.kind == Kind::Custom && ex.phase == Phase::Launching) return;
  if (ex.kind != Kind::Custom) {
    if (ex.tasks.empty()) return;
    auto task = ex.tasks.find(ex.kind == Kind::Group ? owner->second.taskId : ex.tasks.begin()->first);
    if (task == ex.tasks.end() || !task->second.launched) return;
  }
  auto exit = deps_.containers->exitOf(containerId);
  if (!exit) {
    logging::get("agent")->debug("exit of container_id={}: {}", containerId, exit.error().message);
    return;
  }
  if (!*exit) return;  // still running: a spurious wake-up
  ex.live.erase(containerId);
  if (auto s = deps_.containers->destroy(containerId); !s)
    logging::get("agent")->warn("destroy container_id={}: {}", containerId, s.error().message);
  if (ex.kind == Kind::Custom) return executorExited(fw->second, ex, **exit);
  std::string taskId = ex.kind == Kind::Group ? owner->second.taskId : ex.tasks.begin()->first;
  auto task = ex.tasks.find(taskId);
  if (task != ex.tasks.end()) taskExited(fw->second, ex, task->second, **exit);
}

void Agent::taskExited(FwRec& fw, ExecRec& ex, TaskRec& task, const ContainerExit& exit) {
  task.exit = exit;
  logging::get("agent")->info("task exited framework_id={} task_id={} {}", ex.frameworkId,
                              task.info.task_id().value(), describeExit(exit.waitStatus));
  if (!isTerminal(task.state)) {
    bool success = WIFEXITED(exit.waitStatus) && WEXITSTATUS(exit.waitStatus) == 0;
    std::string message = exit.message.empty() ? describeExit(exit.waitStatus) : exit.message;
    if (exit.oomKilled)
      sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY,
                 "Memory limit exceeded: " + message);
    else if (task.killing || exit.killedByRequest)
      sendStatus(ex, task, mesos::v1::TASK_KILLED,
                 task.launched ? std::nullopt
                               : std::optional(TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH),
                 message);
    else if (success)
      sendStatus(ex, task, mesos::v1::TASK_FINISHED, std::nullopt, message);
    else
      sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_COMMAND_EXECUTOR_FAILED,
                 message);
  }
  // Mesos's default executor kills the rest of a group when one task fails.
  if (ex.kind == Kind::Group && task.state != mesos::v1::TASK_FINISHED) {
    for (auto& [id, other] : ex.tasks) {
      if (isTerminal(other.state) || other.killing) continue;
      other.killing = true;
      if (other.launched) (void)deps_.containers->kill(other.containerId, graceOf(other, nullptr));
    }
  }
  maybeFinishExecutor(fw, ex);
}

void Agent::executorExited(FwRec& fw, ExecRec& ex, const ContainerExit& exit) {
  bool shutdown = ex.phase == Phase::Terminating;
  ex.phase = Phase::Terminated;
  if (ex.channel) ex.channel->close();
  ex.channel.reset();
  logging::get("agent")->info("executor exited framework_id={} executor_id={} {}",
                              ex.frameworkId, ex.info.executor_id().value(),
                              describeExit(exit.waitStatus));
  std::string message = "Executor terminated: " + describeExit(exit.waitStatus);
  for (auto& [id, task] : ex.tasks) {
    if (isTerminal(task.state)) continue;
    if (exit.oomKilled)
      sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY,
                 "Memory limit exceeded: " + message);
    else if (task.killing || shutdown)
      sendStatus(ex, task, mesos::v1::TASK_KILLED, TaskStatus::REASON_EXECUTOR_TERMINATED, message);
    else
      sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_EXECUTOR_TERMINATED, message);
  }
  ex.queued.clear();
  maybeFinishExecutor(fw, ex);
}

void Agent::sendStatus(ExecRec& ex, TaskRec& task, mesos::v1::TaskState state,
                       std::optional<TaskStatus::Reason> reason, const std::string& message,
                       std::optional<bool> healthy) {
  TaskStatus status;
  if (healthy) status.set_healthy(*healthy);
  *status.mutable_task_id() = task.info.task_id();
  status.set_state(state);
  status.set_source(TaskStatus::SOURCE_AGENT);
  if (reason) status.set_reason(*reason);
  if (!message.empty()) status.set_message(message);
  status.set_timestamp(nowSeconds());
  std::string container = task.containerId.empty() ? ex.containerId : task.containerId;
  status.mutable_container_status()->mutable_container_id()->set_value(container);
  // As Mesos: the container's addresses from TASK_RUNNING on.
  if (task.launched && state != mesos::v1::TASK_STAGING && state != mesos::v1::TASK_STARTING) {
    if (auto ips = deps_.containers->ipAddresses(container)) setIpAddresses(*status.mutable_container_status(), *ips);
  }
  forward(ex, task, std::move(status));
}

void Agent::forward(ExecRec& ex, TaskRec& task, TaskStatus status) {
  status.mutable_agent_id()->set_value(agentId_);
  *status.mutable_executor_id() = ex.info.executor_id();
  task.state = status.state();
  if (isTerminal(status.state())) ++terminalCounts_[status.state()];
  mesos::v1::FrameworkID fw;
  fw.set_value(ex.frameworkId);
  const std::string& taskId = task.info.task_id().value();
  if (auto s = updates_.update(fw, status, updatesPath(ex, taskId)); !s) {
    // A full disk must not lose the update: it is still sent, from memory.
    logging::get("agent")->error("status update task_id={}: {}", taskId, s.error().message);
    (void)updates_.update(fw, status);
  }
}

void Agent::maybeFinishExecutor(FwRec& fw, ExecRec& ex) {
  if (!ex.live.empty() || ex.phase == Phase::Launching) return;
  if (ex.kind == Kind::Custom && ex.phase != Phase::Terminated) return;
  if (ex.kind != Kind::Custom) {
    for (const auto& [id, task] : ex.tasks)
      if (!isTerminal(task.state)) return;  // a group may still get tasks
    if (ex.kind == Kind::Group && ex.phase != Phase::Terminated)
      (void)deps_.containers->destroyPod(ex.containerId);
    ex.phase = Phase::Terminated;
  }
  for (const auto& [id, task] : ex.tasks)
    if (!updates_.done(ex.frameworkId, id)) return;  // waiting for acknowledgements
  std::string exId = ex.info.executor_id().value();
  if (auto s = markRunCompleted(paths_, agentId_, ex.frameworkId, exId, ex.containerId); !s)
    logging::get("agent")->warn("checkpoint completed run: {}", s.error().message);
  for (const auto& [id, task] : ex.tasks) {
    updates_.erase(ex.frameworkId, id);
    if (!task.containerId.empty()) containers_.erase(task.containerId);
  }
  containers_.erase(ex.containerId);
  completedSandboxes_.push_back(ex.sandbox);
  if (completedSandboxes_.size() > 1000) completedSandboxes_.pop_front();
  fw.executors.erase(exId);  // `ex` is gone from here on
}

std::chrono::milliseconds Agent::graceOf(const TaskRec& task,
                                         const mesos::v1::KillPolicy* override) const {
  const mesos::v1::KillPolicy* policy =
      override && override->has_grace_period() ? override
      : task.info.has_kill_policy()            ? &task.info.kill_policy()
                                               : nullptr;
  if (!policy || !policy->has_grace_period()) return options_.defaultKillGrace;
  int64_t ns = policy->grace_period().nanoseconds();
  return std::chrono::milliseconds(ns > 0 ? ns / 1000000 : 0);
}

std::pair<Agent::FwRec*, Agent::ExecRec*> Agent::findTask(const std::string& frameworkId,
                                                          const std::string& taskId) {
  auto fw = frameworks_.find(frameworkId);
  if (fw == frameworks_.end()) return {nullptr, nullptr};
  for (auto& [id, ex] : fw->second.executors)
    if (ex.tasks.count(taskId)) return {&fw->second, &ex};
  return {&fw->second, nullptr};
}

void Agent::killTask(const nucleo::agent::Event::KillTask& kill) {
  const std::string& taskId = kill.task_id().value();
  auto [fw, ex] = findTask(kill.framework_id().value(), taskId);
  if (!ex) {
    if (!fw) return;
    mesos::v1::TaskInfo unknown;
    *unknown.mutable_task_id() = kill.task_id();
    if (updates_.latest(kill.framework_id().value(), taskId)) return;  // finished, being acked
    return rejectTask(kill.framework_id().value(), unknown, mesos::v1::TASK_LOST,
                      TaskStatus::REASON_TASK_UNKNOWN, "Attempted to kill an unknown task");
  }
  TaskRec& task = ex->tasks[taskId];
  if (isTerminal(task.state)) return;
  auto grace = graceOf(task, kill.has_kill_policy() ? &kill.kill_policy() : nullptr);
  logging::get("agent")->info("killing task framework_id={} task_id={} grace_ms={}",
                              ex->frameworkId, taskId, grace.count());
  if (ex->kind == Kind::Custom) {
    auto queued = std::find(ex->queued.begin(), ex->queued.end(), taskId);
    if (queued != ex->queued.end()) {
      ex->queued.erase(queued);
      sendStatus(*ex, task, mesos::v1::TASK_KILLED, TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH,
                 "Killed before it was delivered to the executor");
      return maybeFinishExecutor(*fw, *ex);
    }
    task.killing = true;
    ExecutorEvent event;
    event.set_type(ExecutorEvent::KILL);
    *event.mutable_kill()->mutable_task_id() = kill.task_id();
    if (kill.has_kill_policy()) *event.mutable_kill()->mutable_kill_policy() = kill.kill_policy();
    return sendToExecutor(*ex, event);
  }
  bool first = !task.killing;
  task.killing = true;
  if (!task.launched) return;  // killed as soon as the launch completes
  if (first) sendStatus(*ex, task, mesos::v1::TASK_KILLING, std::nullopt, "");
  if (auto s = deps_.containers->kill(task.containerId, grace); !s)
    logging::get("agent")->warn("kill container_id={}: {}", task.containerId, s.error().message);
}

void Agent::acknowledge(const nucleo::agent::Event::Acknowledge& ack) {
  const std::string& fwId = ack.framework_id().value();
  const std::string& taskId = ack.task_id().value();
  auto matched = updates_.acknowledge(fwId, taskId, ack.uuid());
  if (!matched) {
    logging::get("agent")->error("acknowledgement task_id={}: {}", taskId, matched.error().message);
    return;
  }
  if (!*matched) return;  // a duplicate or a stale uuid
  auto [fw, ex] = findTask(fwId, taskId);
  if (!ex) return;
  if (ex->kind == Kind::Custom && ex->channel) {
    ExecutorEvent event;
    event.set_type(ExecutorEvent::ACKNOWLEDGED);
    *event.mutable_acknowledged()->mutable_task_id() = ack.task_id();
    event.mutable_acknowledged()->set_uuid(ack.uuid());
    sendToExecutor(*ex, event);
  }
  if (updates_.done(fwId, taskId)) maybeFinishExecutor(*fw, *ex);
}

void Agent::sendToExecutor(ExecRec& ex, const ExecutorEvent& event) {
  if (ex.channel && !ex.channel->send(event)) {
    ex.channel->close();
    ex.channel.reset();
  }
}

// Runs when the executor (re)subscribes and when tasks are queued to a
// subscribed one: it is no longer waited for, and gets what is queued, in
// order, a group's tasks together as one LAUNCH_GROUP.
void Agent::deliverQueued(FwRec& fw, ExecRec& ex) {
  (void)fw;
  ex.registrationDeadline = {};
  ex.recovered = false;
  std::set<std::string> sent;
  for (const auto& taskId : ex.queued) {
    auto task = ex.tasks.find(taskId);
    if (task == ex.tasks.end() || isTerminal(task->second.state) || sent.count(taskId)) continue;
    ExecutorEvent event;
    const std::string group = task->second.group;
    if (group.empty()) {
      event.set_type(ExecutorEvent::LAUNCH);
      *event.mutable_launch()->mutable_task() = task->second.info;
      task->second.launched = true;
    } else {
      event.set_type(ExecutorEvent::LAUNCH_GROUP);
      auto* tasks = event.mutable_launch_group()->mutable_task_group();
      for (const auto& id : ex.queued) {
        auto member = ex.tasks.find(id);
        if (member == ex.tasks.end() || member->second.group != group ||
            isTerminal(member->second.state) || !sent.insert(id).second)
          continue;
        *tasks->add_tasks() = member->second.info;
        member->second.launched = true;
      }
    }
    sendToExecutor(ex, event);
  }
  ex.queued.clear();
}

void Agent::shutdownExecutor(FwRec& fw, ExecRec& ex, const std::string& why) {
  if (ex.phase == Phase::Terminated || ex.phase == Phase::Terminating) return;
  logging::get("agent")->info("shutting down executor framework_id={} executor_id={}: {}",
                              ex.frameworkId, ex.info.executor_id().value(), why);
  auto grace = ex.info.has_shutdown_grace_period()
                   ? std::chrono::milliseconds(ex.info.shutdown_grace_period().nanoseconds() / 1000000)
                   : std::chrono::milliseconds(5000);
  if (ex.kind == Kind::Custom) {
    ex.phase = Phase::Terminating;
    ExecutorEvent event;
    event.set_type(ExecutorEvent::SHUTDOWN);
    sendToExecutor(ex, event);
    if (ex.live.count(ex.containerId)) (void)deps_.containers->kill(ex.containerId, grace);
    else maybeFinishExecutor(fw, ex);
    return;
  }
  for (auto& [id, task] : ex.tasks) {
    if (isTerminal(task.state) || task.killing) continue;
    task.killing = true;
    if (task.launched) (void)deps_.containers->kill(task.containerId, graceOf(task, nullptr));
  }
}

void Agent::shutdownFramework(const std::string& frameworkId) {
  auto fw = frameworks_.find(frameworkId);
  if (fw == frameworks_.end()) return;
  std::vector<std::string> ids;
  for (const auto& [id, ex] : fw->second.executors) ids.push_back(id);
  for (const auto& id : ids) {
    auto ex = fw->second.executors.find(id);
    if (ex != fw->second.executors.end())
      shutdownExecutor(fw->second, ex->second, "framework shut down");
  }
}

// Custom executors that did not subscribe in time (a new one within
// --executor_registration_timeout, a recovered one within
// --executor_reregistration_timeout) are killed; their tasks fail.
void Agent::expireRegistrations() {
  auto now = deps_.clock->now();
  for (auto& [fwId, fw] : frameworks_) {
    for (auto& [exId, ex] : fw.executors) {
      if (ex.kind != Kind::Custom || ex.phase != Phase::Running || ex.channel ||
          ex.registrationDeadline == Clock::TimePoint{} || now < ex.registrationDeadline)
        continue;
      bool recovered = ex.recovered;
      logging::get("agent")->warn("executor did not {} in time framework_id={} executor_id={}",
                                  recovered ? "re-subscribe" : "subscribe", fwId, exId);
      auto reason = recovered ? TaskStatus::REASON_EXECUTOR_REREGISTRATION_TIMEOUT
                              : TaskStatus::REASON_EXECUTOR_REGISTRATION_TIMEOUT;
      std::string message = recovered
          ? "Executor did not re-subscribe within the re-registration timeout after an agent restart"
          : "Executor did not subscribe within the registration timeout";
      for (auto& [id, task] : ex.tasks)
        if (!isTerminal(task.state)) sendStatus(ex, task, mesos::v1::TASK_FAILED, reason, message);
      ex.queued.clear();
      ex.registrationDeadline = {};
      ex.phase = Phase::Terminating;
      (void)deps_.containers->kill(ex.containerId, std::chrono::milliseconds(0));
    }
  }
}

void Agent::tick() {
  updates_.tick();
  probeHealth();
  expireRegistrations();
  auto now = deps_.clock->now();
  if (now < nextPoll_) return;
  // A safety net for exits the watcher missed (and the only way without one).
  nextPoll_ = now + (deps_.watchExit ? std::chrono::seconds(5) : std::chrono::milliseconds(200));
  std::vector<std::string> live;
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors) live.insert(live.end(), ex.live.begin(), ex.live.end());
  for (const auto& id : live) containerExited(id);
}

}  // namespace nucleo::agent
