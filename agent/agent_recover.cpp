// Recovery after an agent restart, and forgetting everything on SHUTDOWN.

#include <fmt/format.h>

#include "agent/agent.hpp"
#include "base/fs.hpp"
#include "base/logging.hpp"

namespace nucleo::agent {

namespace {

using mesos::v1::TaskStatus;

std::string kindOf(const mesos::v1::ExecutorInfo& info) {
  for (const auto& label : info.labels().labels())
    if (label.key() == "nucleo_executor_kind") return label.value();
  return "custom";
}

mesos::v1::ExecutorInfo withoutKind(mesos::v1::ExecutorInfo info) {
  auto* labels = info.mutable_labels()->mutable_labels();
  for (int i = labels->size() - 1; i >= 0; --i)
    if (labels->Get(i).key() == "nucleo_executor_kind") labels->DeleteSubrange(i, 1);
  if (labels->empty()) info.clear_labels();
  return info;
}

// The LAUNCH_GROUP a custom executor's task came in (agent.cpp's label),
// removed from `task`; "" for a plain LAUNCH.
std::string takeGroup(mesos::v1::TaskInfo& task) {
  std::string group;
  auto* labels = task.mutable_labels()->mutable_labels();
  for (int i = labels->size() - 1; i >= 0; --i)
    if (labels->Get(i).key() == "nucleo_task_group") {
      group = labels->Get(i).value();
      labels->DeleteSubrange(i, 1);
    }
  if (labels->empty()) task.clear_labels();
  return group;
}

}  // namespace

Status Agent::recover() {
  auto log = logging::get("agent");
  TRY_ASSIGN(AgentCheckpoint state, recoverCheckpoint(paths_).context("recover checkpoint"));
  TRY_ASSIGN(auto onDiskList, deps_.containers->recover().context("recover containers"));
  std::map<std::string, ContainerInfoOnDisk> onDisk;
  for (auto& c : onDiskList) onDisk[c.containerId] = std::move(c);
  if (options_.recoverCleanup) {
    log->info("--recover cleanup: destroying {} containers, forgetting agent_id={}", onDisk.size(),
              state.agentId);
    for (const auto& [id, c] : onDisk) (void)deps_.containers->destroy(id);
    return fs::removeAll(paths_.meta());
  }
  agentId_ = state.agentId;
  if (!agentId_.empty()) info_.mutable_id()->set_value(agentId_);
  std::set<std::string> known;
  for (const auto& [fwId, fw] : state.frameworks) {
    if (auto s = recoverFramework(fw, onDisk, known); !s)
      log->error("recover framework_id={}: {}", fwId, s.error().message);
  }
  for (const auto& [id, c] : onDisk) {
    if (known.count(id)) continue;
    log->info("destroying unknown container container_id={}", id);
    if (auto s = deps_.containers->destroy(id); !s)
      log->warn("destroy container_id={}: {}", id, s.error().message);
  }
  // Exits that happened while the agent was down: their final updates now.
  std::vector<std::string> exited;
  for (const auto& id : known)
    if (onDisk.count(id) && onDisk.at(id).phase == ContainerPhase::Exited) exited.push_back(id);
  for (const auto& id : exited) containerExited(id);
  log->info("recovered agent_id={} frameworks={} containers={} pending_updates={}", agentId_,
            frameworks_.size(), known.size(), updates_.pending());
  return {};
}

Status Agent::recoverFramework(const FrameworkCheckpoint& checkpoint,
                               const std::map<std::string, ContainerInfoOnDisk>& onDisk,
                               std::set<std::string>& known) {
  FwRec& fw = frameworks_[checkpoint.info.id().value()];
  fw.info = checkpoint.info;
  for (const auto& [exId, executor] : checkpoint.executors) {
    auto run = executor.runs.find(executor.latestRun);
    if (run == executor.runs.end() || run->second.completed) continue;
    recoverRun(fw, executor, run->second, onDisk, known);
  }
  return {};
}

void Agent::recoverRun(FwRec& fw, const ExecutorCheckpoint& executor, const RunCheckpoint& run,
                       const std::map<std::string, ContainerInfoOnDisk>& onDisk,
                       std::set<std::string>& known) {
  if (!fw.info.checkpoint()) return loseRun(fw, executor, run, onDisk, known);
  const std::string fwId = fw.info.id().value();
  const std::string exId = executor.info.executor_id().value();
  std::string kind = kindOf(executor.info);
  ExecRec& ex = fw.executors[exId];
  ex.kind = kind == "command" ? Kind::Command : kind == "group" ? Kind::Group : Kind::Custom;
  ex.info = withoutKind(executor.info);
  ex.frameworkId = fwId;
  ex.containerId = run.containerId;
  ex.sandbox = sandboxPath(fwId, exId, run.containerId);
  ex.phase = Phase::Running;
  if (ex.kind == Kind::Group) known.insert(run.containerId);  // the pod's holder
  for (const auto& [taskId, checkpointed] : run.tasks) {
    TaskRec& task = ex.tasks[taskId];
    task.info = checkpointed.info;
    task.group = takeGroup(task.info);
    if (auto s = updates_.recover(fwId, taskId, checkpointed.updatesPath); !s)
      logging::get("agent")->error("recover updates task_id={}: {}", taskId, s.error().message);
    auto latest = updates_.latest(fwId, taskId);
    task.state = latest ? latest->state() : mesos::v1::TASK_STAGING;
    task.launched = true;
    if (ex.kind != Kind::Custom)
      task.containerId = ex.kind == Kind::Group ? groupContainerId(run.containerId, taskId)
                                                : run.containerId;
    if (ex.kind == Kind::Custom && task.state == mesos::v1::TASK_STAGING) {
      task.launched = false;  // delivered again unless the executor reports it
      ex.queued.push_back(taskId);
    }
    if (task.containerId.empty() || isTerminal(task.state)) continue;
    if (onDisk.count(task.containerId)) {
      known.insert(task.containerId);
      ex.live.insert(task.containerId);
      containers_[task.containerId] = Owner{fwId, exId, ex.kind == Kind::Group ? taskId : ""};
      if (onDisk.at(task.containerId).phase == ContainerPhase::Running) {
        watch(task.containerId);
        if (task.info.has_health_check())
          task.health.emplace(task.info.health_check(), deps_.clock->now());
      }
    } else {
      sendStatus(ex, task, mesos::v1::TASK_FAILED, TaskStatus::REASON_EXECUTOR_TERMINATED,
                 "The task's container was gone when the agent recovered");
    }
  }
  if (ex.kind == Kind::Custom) {
    if (onDisk.count(run.containerId)) {
      known.insert(run.containerId);
      ex.live.insert(run.containerId);
      containers_[run.containerId] = Owner{fwId, exId, ""};
      // Mesos's --executor_reregistration_timeout: a checkpointing executor
      // re-subscribes within it or is killed and its tasks fail.
      ex.registrationDeadline = deps_.clock->now() + options_.executorReregistrationTimeout;
      ex.recovered = true;
      if (onDisk.at(run.containerId).phase == ContainerPhase::Running) watch(run.containerId);
    } else {
      executorExited(fw, ex, ContainerExit{0, false, false, "container gone after agent restart"});
      return;
    }
  }
  maybeFinishExecutor(fw, ex);
}

// Mesos's agent checkpoints nothing of a framework without checkpointing,
// so a restart forgets its executors; here they were written down, which
// lets the agent end them cleanly: containers destroyed, each unfinished
// task TASK_LOST through the status update manager (so the scheduler learns
// it even if the master's own view is stale), the run completed once acked.
void Agent::loseRun(FwRec& fw, const ExecutorCheckpoint& executor, const RunCheckpoint& run,
                    const std::map<std::string, ContainerInfoOnDisk>& onDisk,
                    std::set<std::string>& known) {
  const std::string fwId = fw.info.id().value();
  const std::string exId = executor.info.executor_id().value();
  auto log = logging::get("agent");
  log->info("not recovering executor_id={} of framework_id={}: the framework does not checkpoint",
            exId, fwId);
  ExecRec& ex = fw.executors[exId];
  std::string kind = kindOf(executor.info);
  ex.kind = kind == "command" ? Kind::Command : kind == "group" ? Kind::Group : Kind::Custom;
  ex.info = withoutKind(executor.info);
  ex.frameworkId = fwId;
  ex.containerId = run.containerId;
  ex.sandbox = sandboxPath(fwId, exId, run.containerId);
  ex.phase = Phase::Terminated;
  // The run's containers: the executor's or task's own, and a pod's tasks'.
  for (const auto& [id, c] : onDisk) {
    if (id != run.containerId && !id.starts_with(run.containerId + ".")) continue;
    known.insert(id);
    if (auto s = deps_.containers->destroy(id); !s)
      log->warn("destroy container_id={}: {}", id, s.error().message);
  }
  if (ex.kind == Kind::Group) (void)deps_.containers->destroyPod(run.containerId);
  for (const auto& [taskId, checkpointed] : run.tasks) {
    TaskRec& task = ex.tasks[taskId];
    task.info = checkpointed.info;
    task.group = takeGroup(task.info);
    if (auto s = updates_.recover(fwId, taskId, checkpointed.updatesPath); !s)
      log->error("recover updates task_id={}: {}", taskId, s.error().message);
    auto latest = updates_.latest(fwId, taskId);
    task.state = latest ? latest->state() : mesos::v1::TASK_STAGING;
    if (!isTerminal(task.state))
      sendStatus(ex, task, mesos::v1::TASK_LOST, TaskStatus::REASON_AGENT_RESTARTED,
                 "The agent restarted and the framework does not checkpoint");
  }
  maybeFinishExecutor(fw, ex);
}

void Agent::destroyEverything() {
  for (auto& [fwId, fw] : frameworks_)
    for (auto& [exId, ex] : fw.executors) {
      for (const auto& id : ex.live) (void)deps_.containers->destroy(id);
      if (ex.kind == Kind::Group) (void)deps_.containers->destroyPod(ex.containerId);
      if (ex.channel) ex.channel->close();
    }
  if (auto all = deps_.containers->recover())
    for (const auto& c : *all) (void)deps_.containers->destroy(c.containerId);
}

void Agent::shutdownAgent(const std::string& reason) {
  logging::get("agent")->warn("shutting down agent_id={}: {}; killing every task", agentId_,
                              reason);
  destroyEverything();
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors)
      for (const auto& [taskId, task] : ex.tasks) updates_.erase(fwId, taskId);
  frameworks_.clear();
  containers_.clear();
  if (auto s = fs::removeAll(paths_.meta()); !s)
    logging::get("agent")->error("forget checkpoint: {}", s.error().message);
  agentId_.clear();
  info_.clear_id();
  registered_ = false;
  updates_.pause();
}

}  // namespace nucleo::agent
