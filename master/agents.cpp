// The agent side of the master: registration, heartbeats, status updates
// (protocol in proto/nucleo/agent.proto).

#include <chrono>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using mesos::v1::scheduler::Event;
using AgentCall = nucleo::agent::Call;

Response Master::agentCall(const AgentCall& call, const CallContext& context,
                           std::shared_ptr<EventStream> stream) {
  if (!call.has_type()) return Response{400, "Expecting 'type' to be present", {}};
  if (call.type() == AgentCall::REGISTER) return registerAgent(call, context, std::move(stream));
  if (!call.has_agent_id()) return Response{400, "Expecting 'agent_id' to be present", {}};
  auto it = agents_.find(call.agent_id().value());
  if (it == agents_.end() || !it->second.reachable)
    return Response{404, "Agent is not registered: register again", {}};
  Agent& agent = it->second;
  if (context.streamId != agent.streamId)
    return Response{400, "The 'Mesos-Stream-Id' header does not match the agent's stream", {}};
  agent.lastSeen = clock_.now();
  switch (call.type()) {
    case AgentCall::HEARTBEAT: break;
    case AgentCall::STATUS_UPDATE:
      if (!call.status_update().status().has_task_id() || !call.status_update().status().has_state())
        return Response{400, "Expecting 'status_update.status' with task_id and state", {}};
      statusUpdate(call.status_update());
      break;
    case AgentCall::EXECUTOR_MESSAGE: {
      const auto& m = call.executor_message();
      Framework* framework = findFramework(m.framework_id().value());
      if (!framework) break;
      Event event;
      event.set_type(Event::MESSAGE);
      *event.mutable_message()->mutable_agent_id() = call.agent_id();
      *event.mutable_message()->mutable_executor_id() = m.executor_id();
      event.mutable_message()->set_data(m.data());
      sendEvent(*framework, event);
      break;
    }
    default: return Response{400, "Unsupported agent call", {}};
  }
  return Response{};
}

Response Master::registerAgent(const AgentCall& call, const CallContext& context,
                               std::shared_ptr<EventStream> stream) {
  if (!context.streamId.empty())
    return Response{400, "REGISTER calls should not include the 'Mesos-Stream-Id' header", {}};
  const auto& info = call.register_().agent_info();
  if (!call.has_register_() || !info.has_hostname() || info.hostname().empty())
    return Response{400, "Expecting 'register.agent_info.hostname' to be present", {}};
  auto total = fromProto(info.resources());
  if (!total) return Response{400, "Agent resources are invalid: " + total.error().message, {}};
  std::string id = info.id().value();
  if (goneAgents_.count(id))
    return Response{403, "Agent was marked gone by the operator: shut down", {}};
  if (!id.empty()) {
    if (auto s = validateId("agent id", id); !s) return Response{400, s.error().message, {}};
  } else {
    id = fmt::format("{}-S{}", id_, nextAgent_++);
  }

  // A new or returning unreachable agent is told REGISTERED only once the
  // registry that admits it is stored (at the next tick, batched with the
  // others); an agent the registry already holds as admitted is told at once.
  auto known = agents_.find(id);
  bool durable = !registry_ || recoveredAgents_.count(id) ||
                 (known != agents_.end() && known->second.reachable);
  auto used = reconcileAgentTasks(id, call.register_());
  recoveredAgents_.erase(id);
  unreachableAgents_.erase(id);
  registryDirty_ = true;
  Agent& agent = agents_[id];
  if (agent.stream) {
    streamOwners_.erase(agent.stream.get());
    agent.stream->close();
  }
  rescindOffers([&](const OfferRecord& r) { return r.allocation.agentId == id; }, true);
  allocator_.removeAgent(id);
  if (auto s = allocator_.addAgent(id, *total, used); !s) return Response{500, s.error().message, {}};
  if (deactivatedAgents_.count(id)) allocator_.deactivateAgent(id);
  agent.id = id;
  agent.info = info;
  agent.info.mutable_id()->set_value(id);
  agent.ip = context.remoteIp;
  agent.stream = std::move(stream);
  agent.streamId = randomUuidString();
  agent.lastSeen = agent.lastPing = clock_.now();
  agent.reachable = true;
  agent.total = *total;
  streamOwners_[agent.stream.get()] = "a:" + id;

  nucleo::agent::Event event;
  event.set_type(nucleo::agent::Event::REGISTERED);
  event.mutable_registered()->mutable_agent_id()->set_value(id);
  event.mutable_registered()->set_heartbeat_interval_seconds(
      std::chrono::duration<double>(options_.heartbeatInterval).count());
  *event.mutable_registered()->mutable_master_info() = masterInfo();
  auto deliver = [&](const nucleo::agent::Event& e) {
    if (durable)
      agent.stream->send(e);
    else
      pendingRegistered_.push_back({id, agent.stream, e});
  };
  deliver(event);
  for (const auto& [frameworkId, roles] : used) {
    if (!completedFrameworks_.count(frameworkId)) continue;
    nucleo::agent::Event shutdown;
    shutdown.set_type(nucleo::agent::Event::SHUTDOWN_FRAMEWORK);
    shutdown.mutable_shutdown_framework()->mutable_framework_id()->set_value(frameworkId);
    deliver(shutdown);
  }
  if (durable && drains_.count(id)) killTasksForDrain(id);
  publishAgentAdded(agent);
  allocationDue_ = true;
  logging::get("master")->info("agent registered agent_id={} hostname={} resources={}", id,
                               info.hostname(), total->toString());
  return Response{200, "", agent.streamId};
}

// What the agent runs counts as used (framework -> role -> resources); tasks
// the master expected there but the agent does not report are gone.
std::map<std::string, std::map<std::string, Resources>> Master::reconcileAgentTasks(
    const std::string& id, const AgentCall::Register& reg) {
  std::map<std::string, std::map<std::string, Resources>> used;
  std::set<std::pair<std::string, std::string>> reported;
  for (const auto& task : reg.tasks()) {
    std::string frameworkId = task.framework_id().value();
    // A task that ended on the agent is still reported: its terminal update
    // is on its way, so it must not be declared lost meanwhile.
    reported.insert({frameworkId, task.task_id().value()});
    if (isTerminal(task.state())) continue;
    std::string role = task.resources().empty() || !task.resources(0).has_allocation_info()
                           ? "*" : task.resources(0).allocation_info().role();
    if (auto r = fromProto(task.resources())) used[frameworkId][role] += *r;
    Framework* framework = findFramework(frameworkId);
    if (!framework) continue;
    auto& known = framework->tasks[task.task_id().value()];
    bool changed = known.task.state() != task.state() || !known.task.has_state();
    bool added = !known.task.has_task_id();
    if (added) {
      known.task = task;
      known.role = role;
      known.resources = used[frameworkId][role];
      publishTaskAdded(known.task);
    }
    known.task.set_state(task.state());
    if (changed) {
      auto status = sendTaskStatus(*framework, task.task_id(), task.state(),
                                   mesos::v1::TaskStatus::REASON_AGENT_REREGISTERED,
                                   "Agent re-registered", id);
      publishTaskUpdated(frameworkId, status, task.state());
    }
  }
  for (auto& [frameworkId, framework] : frameworks_) {
    std::vector<std::string> gone;
    for (const auto& [taskId, task] : framework.tasks)
      if (task.task.agent_id().value() == id && !reported.count({frameworkId, taskId})) gone.push_back(taskId);
    for (const auto& taskId : gone) {
      auto state = framework.partitionAware ? mesos::v1::TASK_GONE : mesos::v1::TASK_LOST;
      auto it = framework.tasks.find(taskId);
      auto status = sendTaskStatus(framework, it->second.task.task_id(), state,
                                   mesos::v1::TaskStatus::REASON_AGENT_RESTARTED,
                                   "Task is not on the re-registered agent", id);
      it->second.task.set_state(state);
      publishTaskUpdated(frameworkId, status, state);
      completeTask(framework, it);
    }
  }

  return used;
}

void Master::statusUpdate(const AgentCall::StatusUpdate& update) {
  const auto& status = update.status();
  Framework* framework = findFramework(update.framework_id().value());
  if (!framework) return;
  auto it = framework->tasks.find(status.task_id().value());
  if (it != framework->tasks.end()) {
    updateTaskState(*framework, it->second, status);
    publishTaskUpdated(framework->id, status, it->second.task.state());
  }
  Event event;
  event.set_type(Event::UPDATE);
  *event.mutable_update()->mutable_status() = status;
  sendEvent(*framework, event);  // unacknowledged updates are retried by the agent
  it = framework->tasks.find(status.task_id().value());
  if (it != framework->tasks.end() && isTerminal(status.state()) && !status.has_uuid())
    completeTask(*framework, it);  // nothing will acknowledge it
}

void Master::updateTaskState(Framework& framework, Task& task, const mesos::v1::TaskStatus& status) {
  auto& t = task.task;
  if (!isTerminal(t.state()) && isTerminal(status.state())) {
    allocator_.recoverResources(framework.id, task.role, t.agent_id().value(), task.resources);
    allocationDue_ = true;
  }
  t.set_state(status.state());
  t.set_status_update_state(status.state());
  if (status.has_uuid()) t.set_status_update_uuid(status.uuid());
  t.clear_statuses();
  *t.add_statuses() = status;
}

void Master::markUnreachable(Agent& agent) {
  logging::get("master")->warn("agent unreachable agent_id={}", agent.id);
  agent.reachable = false;
  registryDirty_ = true;
  if (agent.stream) {
    streamOwners_.erase(agent.stream.get());
    agent.stream->close();
    agent.stream.reset();
  }
  rescindOffers([&](const OfferRecord& r) { return r.allocation.agentId == agent.id; }, true);
  allocator_.removeAgent(agent.id);  // frees what ran there
  publishAgentRemoved(agent.id);
  for (auto& [frameworkId, framework] : frameworks_) {
    std::vector<std::string> lost;
    for (auto& [taskId, task] : framework.tasks) {
      if (task.task.agent_id().value() != agent.id || isTerminal(task.task.state())) continue;
      auto state = framework.partitionAware ? mesos::v1::TASK_UNREACHABLE : mesos::v1::TASK_LOST;
      task.task.set_state(state);
      auto status = sendTaskStatus(framework, task.task.task_id(), state,
                                   mesos::v1::TaskStatus::REASON_AGENT_REMOVED,
                                   "Agent is unreachable", agent.id);
      publishTaskUpdated(frameworkId, status, state);
      if (isTerminal(state)) lost.push_back(taskId);
    }
    for (const auto& taskId : lost) completeTask(framework, framework.tasks.find(taskId));
  }
}

void Master::expireRecoveredAgents() {
  if (recoveredAgents_.empty() || clock_.now() - recoveredAt_ < options_.agentReregisterTimeout)
    return;
  for (auto& [id, info] : recoveredAgents_) {
    logging::get("master")->warn("recovered agent did not re-register agent_id={}", id);
    unreachableAgents_[id] = std::move(info);
  }
  recoveredAgents_.clear();
  registryDirty_ = true;
}

void Master::forwardToAgent(const std::string& agentId, const nucleo::agent::Event& event) {
  auto it = agents_.find(agentId);
  if (it == agents_.end() || !it->second.stream) return;
  if (!it->second.stream->send(event)) {
    streamOwners_.erase(it->second.stream.get());
    it->second.stream.reset();
  }
}

}  // namespace nucleo::master
