// The executor API (POST /api/v1/executor), the operator API (POST /api/v1)
// and /metrics, over the agent's state.

#include <fmt/format.h>

#include "agent/agent.hpp"
#include "agent/containers/isolation.hpp"
#include "agent/containers/task_network.hpp"
#include "agent/files/operator_files.hpp"
#include "base/logging.hpp"
#include "base/strings.hpp"

namespace nucleo::agent {

namespace {

using mesos::v1::TaskStatus;
using ExecutorCall = mesos::v1::executor::Call;
using ExecutorEvent = mesos::v1::executor::Event;
using OperatorCall = mesos::v1::agent::Call;
using OperatorResponse = mesos::v1::agent::Response;

ApiAnswer fail(int status, std::string error) { return ApiAnswer{status, std::move(error), {}}; }

// GET_FLAGS: the flags an operator checks, under Mesos's names; isolation as
// the isolators actually active.
void fillFlags(const AgentOptions& o, OperatorResponse::GetFlags* out) {
  auto add = [&](const char* name, std::string value) {
    auto* flag = out->add_flags();
    flag->set_name(name);
    flag->set_value(std::move(value));
  };
  add("master", fmt::format("{}:{}", o.masterHost, o.masterPort));
  add("ip", o.ip);
  add("port", std::to_string(o.port));
  add("work_dir", o.workDir);
  add("hostname", o.hostname);
  add("resources", o.resources);
  add("attributes", o.attributes);
  auto isolation = Isolation::parse(o.isolation);
  add("isolation", isolation ? strings::join(isolation->active(), ",") : o.isolation);
  add("cgroups_root", o.cgroupParent);
}

}  // namespace

ApiAnswer Agent::executorSubscribe(const ExecutorCall& call,
                                   std::shared_ptr<ExecutorChannel> channel) {
  if (!call.has_framework_id() || !call.has_executor_id())
    return fail(400, "Expecting 'framework_id' and 'executor_id' to be present");
  if (!call.has_subscribe()) return fail(400, "Expecting 'subscribe' to be present");
  auto fw = frameworks_.find(call.framework_id().value());
  if (fw == frameworks_.end()) return fail(400, "Framework cannot be found");
  auto exIt = fw->second.executors.find(call.executor_id().value());
  if (exIt == fw->second.executors.end() || exIt->second.kind != Kind::Custom)
    return fail(400, "Executor cannot be found");
  ExecRec& ex = exIt->second;
  // Launching too: the executor can subscribe before its launch is reported.
  if (ex.phase != Phase::Running && ex.phase != Phase::Launching)
    return fail(403, "Executor is terminating");
  if (ex.channel && ex.channel != channel) ex.channel->close();
  ex.channel = std::move(channel);
  ExecutorEvent event;
  event.set_type(ExecutorEvent::SUBSCRIBED);
  auto* subscribed = event.mutable_subscribed();
  *subscribed->mutable_executor_info() = ex.info;
  *subscribed->mutable_framework_info() = fw->second.info;
  *subscribed->mutable_agent_info() = info_;
  subscribed->mutable_container_id()->set_value(ex.containerId);
  sendToExecutor(ex, event);
  // A re-subscribing executor already has the tasks it lists.
  std::set<std::string> known;
  for (const auto& task : call.subscribe().unacknowledged_tasks())
    known.insert(task.task_id().value());
  for (auto& [id, task] : ex.tasks)
    if (known.count(id)) task.launched = true;
  std::erase_if(ex.queued, [&](const std::string& id) { return known.count(id) > 0; });
  // Updates the executor still waits on: acknowledged while it was away →
  // ACKNOWLEDGED now; never received (lost with a crash) → forwarded now.
  for (const auto& update : call.subscribe().unacknowledged_updates()) {
    const auto& status = update.status();
    auto task = ex.tasks.find(status.task_id().value());
    if (task == ex.tasks.end() || status.uuid().size() != 16) continue;
    auto state = updates_.uuidState(ex.frameworkId, task->first, status.uuid());
    if (state == StatusUpdateManager::UuidState::Acknowledged) {
      ExecutorEvent ack;
      ack.set_type(ExecutorEvent::ACKNOWLEDGED);
      *ack.mutable_acknowledged()->mutable_task_id() = status.task_id();
      ack.mutable_acknowledged()->set_uuid(status.uuid());
      sendToExecutor(ex, ack);
    } else if (state == StatusUpdateManager::UuidState::Unknown &&
               !(updates_.latest(ex.frameworkId, task->first) &&
                 updates_.done(ex.frameworkId, task->first))) {
      TaskStatus copy = status;
      copy.set_source(TaskStatus::SOURCE_EXECUTOR);
      forward(ex, task->second, std::move(copy));
    }
  }
  logging::get("agent")->info("executor subscribed framework_id={} executor_id={} queued={}",
                              ex.frameworkId, ex.info.executor_id().value(), ex.queued.size());
  deliverQueued(fw->second, ex);
  return ApiAnswer{200, "", {}};
}

ApiAnswer Agent::executorCall(const ExecutorCall& call) {
  if (!call.has_framework_id() || !call.has_executor_id())
    return fail(400, "Expecting 'framework_id' and 'executor_id' to be present");
  if (!call.has_type()) return fail(400, "Expecting 'type' to be present");
  auto fw = frameworks_.find(call.framework_id().value());
  if (fw == frameworks_.end()) return fail(400, "Framework cannot be found");
  auto exIt = fw->second.executors.find(call.executor_id().value());
  if (exIt == fw->second.executors.end()) return fail(400, "Executor cannot be found");
  ExecRec& ex = exIt->second;
  switch (call.type()) {
    case ExecutorCall::HEARTBEAT: return ApiAnswer{};
    case ExecutorCall::MESSAGE: {
      nucleo::agent::Call out;
      out.set_type(nucleo::agent::Call::EXECUTOR_MESSAGE);
      out.mutable_agent_id()->set_value(agentId_);
      *out.mutable_executor_message()->mutable_framework_id() = call.framework_id();
      *out.mutable_executor_message()->mutable_executor_id() = call.executor_id();
      out.mutable_executor_message()->set_data(call.message().data());
      if (deps_.toMaster && registered_) deps_.toMaster(out);
      return ApiAnswer{};
    }
    case ExecutorCall::UPDATE: break;
    case ExecutorCall::SUBSCRIBE: return fail(400, "SUBSCRIBE must open a stream");
    default: return fail(501, "Unsupported executor call");
  }
  if (!call.has_update() || !call.update().has_status())
    return fail(400, "Expecting 'update.status' to be present");
  TaskStatus status = call.update().status();
  if (status.uuid().size() != 16) return fail(400, "Expecting 'update.status.uuid' of 16 bytes");
  if (!status.has_state() || status.state() == mesos::v1::TASK_STAGING)
    return fail(400, "'update.status.state' must be set and not TASK_STAGING");
  if (status.has_executor_id() && status.executor_id().value() != call.executor_id().value())
    return fail(400, "'update.status.executor_id' does not match the call's executor_id");
  auto task = ex.tasks.find(status.task_id().value());
  if (task == ex.tasks.end())
    return fail(400, fmt::format("Task '{}' is not known to this executor", status.task_id().value()));
  if (isTerminal(task->second.state) && updates_.done(ex.frameworkId, task->first))
    return ApiAnswer{};  // a resend of an update already through
  status.set_source(TaskStatus::SOURCE_EXECUTOR);
  forward(ex, task->second, std::move(status));
  return ApiAnswer{};
}

void Agent::executorDisconnected(const ExecutorChannel* channel) {
  for (auto& [fwId, fw] : frameworks_)
    for (auto& [exId, ex] : fw.executors)
      if (ex.channel.get() == channel) ex.channel.reset();
}

mesos::v1::Task Agent::taskOf(const ExecRec& ex, const TaskRec& task) const {
  mesos::v1::Task t;
  t.set_name(task.info.name());
  *t.mutable_task_id() = task.info.task_id();
  t.mutable_framework_id()->set_value(ex.frameworkId);
  *t.mutable_executor_id() = ex.info.executor_id();
  t.mutable_agent_id()->set_value(agentId_);
  t.set_state(task.state);
  *t.mutable_resources() = task.info.resources();
  if (auto latest = updates_.latest(ex.frameworkId, task.info.task_id().value())) {
    *t.add_statuses() = *latest;
    t.set_status_update_state(latest->state());
    t.set_status_update_uuid(latest->uuid());
  }
  if (task.info.has_labels()) *t.mutable_labels() = task.info.labels();
  if (task.info.has_container()) *t.mutable_container() = task.info.container();
  return t;
}

void Agent::fillTasks(OperatorResponse::GetTasks* out) const {
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors)
      for (const auto& [id, task] : ex.tasks) {
        auto t = taskOf(ex, task);
        if (isTerminal(task.state)) *out->add_terminated_tasks() = std::move(t);
        else if (!task.launched && ex.kind == Kind::Custom) *out->add_queued_tasks() = std::move(t);
        else *out->add_launched_tasks() = std::move(t);
      }
}

void Agent::fillExecutors(OperatorResponse::GetExecutors* out) const {
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors) {
      auto* e = ex.phase == Phase::Terminated ? out->add_completed_executors()
                                              : out->add_executors();
      *e->mutable_executor_info() = ex.info;
    }
}

void Agent::fillFrameworks(OperatorResponse::GetFrameworks* out) const {
  for (const auto& [fwId, fw] : frameworks_)
    *out->add_frameworks()->mutable_framework_info() = fw.info;
}

void Agent::fillContainers(OperatorResponse::GetContainers* out) {
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors)
      for (const auto& id : ex.live) {
        auto* c = out->add_containers();
        c->mutable_framework_id()->set_value(fwId);
        *c->mutable_executor_id() = ex.info.executor_id();
        c->set_executor_name(ex.info.name());
        c->mutable_container_id()->set_value(id);
        auto* status = c->mutable_container_status();
        status->mutable_container_id()->set_value(id);
        if (auto ips = deps_.containers->ipAddresses(id)) setIpAddresses(*status, *ips);
        auto usage = deps_.containers->usage(id);
        if (!usage) continue;
        auto* stats = c->mutable_resource_statistics();
        stats->set_timestamp(static_cast<double>(std::time(nullptr)));
        stats->set_processes(static_cast<uint32_t>(usage->processes));
        stats->set_cpus_user_time_secs(usage->cpuSeconds);
        stats->set_mem_total_bytes(usage->memoryBytes);
        if (usage->memoryLimitBytes) stats->set_mem_limit_bytes(usage->memoryLimitBytes);
      }
}

ApiAnswer Agent::operatorCall(const OperatorCall& call) {
  OperatorResponse r;
  switch (call.type()) {
    case OperatorCall::GET_HEALTH:
      r.set_type(OperatorResponse::GET_HEALTH);
      r.mutable_get_health()->set_healthy(true);
      break;
    case OperatorCall::GET_STATE:
      r.set_type(OperatorResponse::GET_STATE);
      fillTasks(r.mutable_get_state()->mutable_get_tasks());
      fillExecutors(r.mutable_get_state()->mutable_get_executors());
      fillFrameworks(r.mutable_get_state()->mutable_get_frameworks());
      break;
    case OperatorCall::GET_TASKS:
      r.set_type(OperatorResponse::GET_TASKS);
      fillTasks(r.mutable_get_tasks());
      break;
    case OperatorCall::GET_EXECUTORS:
      r.set_type(OperatorResponse::GET_EXECUTORS);
      fillExecutors(r.mutable_get_executors());
      break;
    case OperatorCall::GET_FRAMEWORKS:
      r.set_type(OperatorResponse::GET_FRAMEWORKS);
      fillFrameworks(r.mutable_get_frameworks());
      break;
    case OperatorCall::GET_CONTAINERS:
      r.set_type(OperatorResponse::GET_CONTAINERS);
      fillContainers(r.mutable_get_containers());
      break;
    case OperatorCall::GET_FLAGS:
      r.set_type(OperatorResponse::GET_FLAGS);
      fillFlags(options_, r.mutable_get_flags());
      break;
    case OperatorCall::GET_AGENT:
      r.set_type(OperatorResponse::GET_AGENT);
      *r.mutable_get_agent()->mutable_agent_info() = info_;
      break;
    case OperatorCall::LIST_FILES:
    case OperatorCall::READ_FILE: {
      SandboxFiles files;
      attachSandboxes(files, sandboxes());
      auto answer = call.type() == OperatorCall::LIST_FILES ? listFiles(files, call) : readFile(files, call);
      if (!answer) return fail(httpStatusOf(answer.error()), answer.error().message);
      return ApiAnswer{200, "", std::move(*answer)};
    }
    case OperatorCall::UNKNOWN: return fail(400, "Expecting 'type' to be present");
    default: return fail(501, "Unsupported call " + OperatorCall::Type_Name(call.type()));
  }
  return ApiAnswer{200, "", std::move(r)};
}

std::string Agent::metricsText() {
  std::map<mesos::v1::TaskState, uint64_t> active;
  size_t containers = 0;
  double cpuSeconds = 0, memory = 0;
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors) {
      for (const auto& [id, task] : ex.tasks)
        if (!isTerminal(task.state)) ++active[task.state];
      for (const auto& id : ex.live) {
        ++containers;
        if (auto usage = deps_.containers->usage(id)) {
          cpuSeconds += usage->cpuSeconds;
          memory += static_cast<double>(usage->memoryBytes);
        }
      }
    }
  std::string out;
  auto gauge = [&](const char* name, const char* help, double value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
  };
  gauge("nucleo_agent_registered", "1 while registered with the master", registered_ ? 1 : 0);
  gauge("nucleo_agent_containers", "Running containers", static_cast<double>(containers));
  gauge("nucleo_agent_status_updates_pending", "Status updates not acknowledged",
        static_cast<double>(updates_.pending()));
  gauge("nucleo_agent_container_cpu_seconds", "CPU time of running containers", cpuSeconds);
  gauge("nucleo_agent_container_memory_bytes", "Memory of running containers", memory);
  out += "# HELP nucleo_agent_tasks Tasks by state (active now; terminal: since start)\n"
         "# TYPE nucleo_agent_tasks gauge\n";
  for (const auto& [state, n] : active)
    out += fmt::format("nucleo_agent_tasks{{state=\"{}\"}} {}\n",
                       mesos::v1::TaskState_Name(state), n);
  for (const auto& [state, n] : terminalCounts_)
    out += fmt::format("nucleo_agent_tasks{{state=\"{}\"}} {}\n",
                       mesos::v1::TaskState_Name(state), n);
  out += fmt::format("# HELP nucleo_agent_tasks_launched_total Tasks received\n"
                     "# TYPE nucleo_agent_tasks_launched_total counter\n"
                     "nucleo_agent_tasks_launched_total {}\n", tasksLaunched_);
  return out;
}

std::vector<std::string> Agent::sandboxes() const {
  std::vector<std::string> out(completedSandboxes_.begin(), completedSandboxes_.end());
  for (const auto& [fwId, fw] : frameworks_)
    for (const auto& [exId, ex] : fw.executors) out.push_back(ex.sandbox);
  return out;
}

}  // namespace nucleo::agent
