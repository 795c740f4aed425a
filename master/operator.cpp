// The operator API's read calls (POST /api/v1).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using OperatorCall = mesos::v1::master::Call;
using OperatorResponse = mesos::v1::master::Response;

OperatorAnswer Master::operatorCall(const OperatorCall& call) {
  OperatorAnswer answer;
  auto& r = answer.response;
  if (!call.has_type()) return OperatorAnswer{400, "Expecting 'type' to be present", {}};
  switch (call.type()) {
    case OperatorCall::GET_HEALTH:
      r.set_type(OperatorResponse::GET_HEALTH);
      r.mutable_get_health()->set_healthy(true);
      break;
    case OperatorCall::GET_VERSION:
      r.set_type(OperatorResponse::GET_VERSION);
      r.mutable_get_version()->mutable_version_info()->set_version(options_.version);
      break;
    case OperatorCall::GET_FLAGS:
      r.set_type(OperatorResponse::GET_FLAGS);
      fillFlags(r.mutable_get_flags());
      break;
    case OperatorCall::GET_METRICS:
      r.set_type(OperatorResponse::GET_METRICS);
      fillMetrics(r.mutable_get_metrics());
      break;
    case OperatorCall::GET_MASTER:
      r.set_type(OperatorResponse::GET_MASTER);
      *r.mutable_get_master()->mutable_master_info() = masterInfo();
      break;
    case OperatorCall::GET_AGENTS:
      r.set_type(OperatorResponse::GET_AGENTS);
      fillAgents(r.mutable_get_agents());
      break;
    case OperatorCall::GET_FRAMEWORKS:
      r.set_type(OperatorResponse::GET_FRAMEWORKS);
      fillFrameworks(r.mutable_get_frameworks());
      break;
    case OperatorCall::GET_TASKS:
      r.set_type(OperatorResponse::GET_TASKS);
      fillTasks(r.mutable_get_tasks());
      break;
    case OperatorCall::GET_EXECUTORS:
      r.set_type(OperatorResponse::GET_EXECUTORS);
      fillExecutors(r.mutable_get_executors());
      break;
    case OperatorCall::GET_STATE:
      r.set_type(OperatorResponse::GET_STATE);
      fillState(r.mutable_get_state());
      break;
    case OperatorCall::GET_ROLES:
      r.set_type(OperatorResponse::GET_ROLES);
      fillRoles(r.mutable_get_roles());
      break;
    case OperatorCall::GET_WEIGHTS:
      r.set_type(OperatorResponse::GET_WEIGHTS);
      for (const auto& [role, weight] : weights_) {
        auto* w = r.mutable_get_weights()->add_weight_infos();
        w->set_role(role);
        w->set_weight(weight);
      }
      break;
    case OperatorCall::UPDATE_WEIGHTS:
      return updateWeights(call.update_weights());
    case OperatorCall::DRAIN_AGENT:
      if (!call.has_drain_agent())
        return OperatorAnswer{400, "Expecting 'drain_agent' to be present", {}};
      return drainAgent(call.drain_agent());
    case OperatorCall::SUBSCRIBE:  // the server streams it through operatorSubscribe()
      return OperatorAnswer{400, "SUBSCRIBE needs a streaming connection", {}};
    case OperatorCall::TEARDOWN: {
      const std::string& id = call.teardown().framework_id().value();
      if (!call.has_teardown() || id.empty())
        return OperatorAnswer{400, "Expecting 'teardown.framework_id' to be present", {}};
      if (!frameworks_.count(id)) return OperatorAnswer{400, "Framework cannot be found", {}};
      removeFramework(id);
      return OperatorAnswer{};
    }
    case OperatorCall::DEACTIVATE_AGENT:
    case OperatorCall::REACTIVATE_AGENT:
    case OperatorCall::MARK_AGENT_GONE:
      return agentMaintenance(call);
    case OperatorCall::UNKNOWN:
      return OperatorAnswer{501, "Received an unexpected UNKNOWN call", {}};
    default:
      return OperatorAnswer{501, fmt::format("Operator call {} is not supported by nucleo-master yet",
                                             OperatorCall::Type_Name(call.type())), {}};
  }
  return answer;
}

void Master::fillFlags(OperatorResponse::GetFlags* out) const {
  auto add = [&](const char* name, const std::string& value) {
    auto* flag = out->add_flags();
    flag->set_name(name);
    flag->set_value(value);
  };
  auto secs = [](Clock::Duration d) {
    return fmt::format("{}secs", std::chrono::duration<double>(d).count());
  };
  add("ip", options_.ip);
  add("port", std::to_string(options_.port));
  add("hostname", options_.hostname);
  add("work_dir", options_.workDir);
  add("offer_timeout", options_.offerTimeout ? secs(*options_.offerTimeout) : "");
  add("agent_ping_timeout", secs(options_.agentPingTimeout));
  add("max_agent_ping_timeouts", std::to_string(options_.maxAgentPingTimeouts));
  add("heartbeat_interval", secs(options_.heartbeatInterval));
  add("allocation_interval", secs(options_.allocationInterval));
  add("roles", fmt::format("{}", fmt::join(options_.roles, ",")));
  add("authenticate_http", options_.credentials.empty() ? "false" : "true");
  add("max_body_size", std::to_string(options_.maxBodyBytes));
  add("agent_reregister_timeout", secs(options_.agentReregisterTimeout));
  add("request_timeout", secs(options_.requestTimeout));
  add("max_connections", std::to_string(options_.maxConnections));
  add("max_event_queue", std::to_string(options_.maxQueuedEvents));
  add("max_completed_tasks_per_framework", std::to_string(options_.maxCompletedTasksPerFramework));
  add("tls", options_.tlsCert.empty() ? "false" : "true");
}

void Master::fillMetrics(OperatorResponse::GetMetrics* out) const {
  auto add = [&](const char* name, double value) {
    auto* metric = out->add_metrics();
    metric->set_name(name);
    metric->set_value(value);
  };
  size_t reachable = 0, connected = 0, tasks = 0;
  for (const auto& [id, agent] : agents_) reachable += agent.reachable ? 1 : 0;
  for (const auto& [id, framework] : frameworks_) {
    connected += framework.stream ? 1 : 0;
    tasks += framework.tasks.size();
  }
  add("master/slaves_active", static_cast<double>(reachable));
  add("master/slaves_unreachable", static_cast<double>(agents_.size() - reachable));
  add("master/frameworks_connected", static_cast<double>(connected));
  add("master/frameworks_disconnected", static_cast<double>(frameworks_.size() - connected));
  add("master/tasks_known", static_cast<double>(tasks));
  add("master/operator_event_stream_subscribers", static_cast<double>(subscribers_.size()));
  add("master/outstanding_offers", static_cast<double>(offers_.size()));
  add("master/messages_launch_tasks", static_cast<double>(counters_.tasksLaunched));
  add("allocator/allocation_runs", static_cast<double>(counters_.allocationCycles));
  add("allocator/allocation_run_ms", counters_.lastAllocationSeconds * 1e3);
}

OperatorAnswer Master::agentMaintenance(const OperatorCall& call) {
  const auto& agentId = call.type() == OperatorCall::DEACTIVATE_AGENT ? call.deactivate_agent().agent_id()
                        : call.type() == OperatorCall::REACTIVATE_AGENT ? call.reactivate_agent().agent_id()
                                                                        : call.mark_agent_gone().agent_id();
  const std::string& id = agentId.value();
  if (id.empty()) return OperatorAnswer{400, "Expecting 'agent_id' to be present", {}};
  auto it = agents_.find(id);
  if (it == agents_.end() && !recoveredAgents_.count(id) && !unreachableAgents_.count(id))
    return OperatorAnswer{404, fmt::format("Agent '{}' is not known", id), {}};
  registryDirty_ = true;
  switch (call.type()) {
    case OperatorCall::DEACTIVATE_AGENT:
      deactivatedAgents_.insert(id);
      allocator_.deactivateAgent(id);
      rescindOffers([&](const OfferRecord& r) { return r.allocation.agentId == id; }, true);
      break;
    case OperatorCall::REACTIVATE_AGENT:
      deactivatedAgents_.erase(id);
      drains_.erase(id);  // as in Mesos, reactivation ends a drain
      allocator_.activateAgent(id);
      allocationDue_ = true;
      break;
    default:
      if (it != agents_.end()) markGone(it->second);
      forgetAgent(id);
  }
  persist();  // answered once durable
  return OperatorAnswer{};
}

void Master::forgetAgent(const std::string& id) {
  recoveredAgents_.erase(id);
  unreachableAgents_.erase(id);
  deactivatedAgents_.erase(id);
  drains_.erase(id);
  goneAgents_.insert(id);
  agents_.erase(id);
  registryDirty_ = true;
}

void Master::markGone(Agent& agent) {
  nucleo::agent::Event shutdown;
  shutdown.set_type(nucleo::agent::Event::SHUTDOWN);
  shutdown.mutable_shutdown()->set_message("Agent was marked gone by the operator");
  if (agent.stream) {
    agent.stream->send(shutdown);
    streamOwners_.erase(agent.stream.get());
    agent.stream->close();
    agent.stream.reset();
  }
  rescindOffers([&](const OfferRecord& r) { return r.allocation.agentId == agent.id; }, true);
  allocator_.removeAgent(agent.id);
  publishAgentRemoved(agent.id);
  for (auto& [frameworkId, framework] : frameworks_) {
    std::vector<std::string> gone;
    for (const auto& [taskId, task] : framework.tasks)
      if (task.task.agent_id().value() == agent.id) gone.push_back(taskId);
    auto state = framework.partitionAware ? mesos::v1::TASK_GONE_BY_OPERATOR : mesos::v1::TASK_LOST;
    for (const auto& taskId : gone) {
      auto it = framework.tasks.find(taskId);
      auto status = sendTaskStatus(framework, it->second.task.task_id(), state,
                                   mesos::v1::TaskStatus::REASON_AGENT_REMOVED_BY_OPERATOR,
                                   "Agent was marked gone by the operator", agent.id);
      it->second.task.set_state(state);
      publishTaskUpdated(frameworkId, status, state);
      completeTask(framework, it);
    }
  }
}

void Master::fillAgents(OperatorResponse::GetAgents* out) const {
  std::map<std::string, Resources> allocated, offered;
  for (const auto& [fid, framework] : frameworks_)
    for (const auto& [tid, task] : framework.tasks)
      if (!isTerminal(task.task.state())) allocated[task.task.agent_id().value()] += task.resources;
  for (const auto& [fid, framework] : frameworks_)
    for (const auto* offer : offers_.ofFramework(fid)) offered[offer->allocation.agentId] += offer->allocation.resources;
  for (const auto& [id, agent] : agents_) fillAgent(agent, out->add_agents(), allocated[id], offered[id]);
  for (const auto& [id, info] : recoveredAgents_) *out->add_recovered_agents() = info;
}

void Master::fillAgent(const Agent& agent, OperatorResponse::GetAgents::Agent* a,
                       const Resources& allocated, const Resources& offered) const {
  *a->mutable_agent_info() = agent.info;
  a->set_active(agent.reachable && !deactivatedAgents_.count(agent.id));
  a->set_deactivated(deactivatedAgents_.count(agent.id) != 0);
  if (auto drain = drains_.find(agent.id); drain != drains_.end())
    *a->mutable_drain_info() = drain->second;
  a->set_version(options_.version);
  a->set_pid(fmt::format("slave(1)@{}:{}", agent.ip, agent.info.port()));
  toProto(agent.total, "", a->mutable_total_resources());
  toProto(allocated, "", a->mutable_allocated_resources());
  toProto(offered, "", a->mutable_offered_resources());
}

void Master::fillState(OperatorResponse::GetState* state) const {
  fillTasks(state->mutable_get_tasks());
  fillExecutors(state->mutable_get_executors());
  fillFrameworks(state->mutable_get_frameworks());
  fillAgents(state->mutable_get_agents());
}

void Master::fillFrameworks(OperatorResponse::GetFrameworks* out) const {
  for (const auto& [id, framework] : frameworks_) fillFramework(framework, out->add_frameworks());
  std::set<std::string> described;
  for (const auto& record : completedFrameworkRecords_) {
    auto* completed = out->add_completed_frameworks();
    *completed->mutable_framework_info() = record.info;
    described.insert(record.info.id().value());
  }
  // Removed before this master started: only their ids are known.
  for (const auto& id : completedFrameworks_)
    if (!described.count(id))
      out->add_completed_frameworks()->mutable_framework_info()->mutable_id()->set_value(id);
}

void Master::fillFramework(const Framework& framework,
                           OperatorResponse::GetFrameworks::Framework* f) const {
  const std::string& id = framework.id;
  {
    *f->mutable_framework_info() = framework.info;
    f->set_active(framework.stream != nullptr);
    f->set_connected(framework.stream != nullptr);
    f->set_recovered(false);
    Resources allocated, offered;
    for (const auto& [tid, task] : framework.tasks)
      if (!isTerminal(task.task.state())) allocated += task.resources;
    for (const auto* offer : offers_.ofFramework(id)) {
      offered += offer->allocation.resources;
      auto* o = f->add_offers();
      o->mutable_id()->set_value(offer->id);
      o->mutable_framework_id()->set_value(id);
      o->mutable_agent_id()->set_value(offer->allocation.agentId);
      if (auto agent = agents_.find(offer->allocation.agentId); agent != agents_.end())
        o->set_hostname(agent->second.info.hostname());
      toProto(offer->allocation.resources, framework.multiRole ? offer->allocation.role : "",
              o->mutable_resources());
    }
    toProto(allocated, "", f->mutable_allocated_resources());
    toProto(offered, "", f->mutable_offered_resources());
  }
}

void Master::fillTasks(OperatorResponse::GetTasks* out) const {
  for (const auto& [fid, framework] : frameworks_) {
    // Terminal tasks stay in `tasks` until their update is acknowledged.
    for (const auto& [tid, task] : framework.tasks) {
      if (task.task.state() == mesos::v1::TASK_UNREACHABLE)
        *out->add_unreachable_tasks() = task.task;
      else
        *out->add_tasks() = task.task;
    }
    for (const auto& task : framework.completedTasks) *out->add_completed_tasks() = task;
  }
  for (const auto& record : completedFrameworkRecords_)
    for (const auto& task : record.tasks) *out->add_completed_tasks() = task;
}

void Master::fillExecutors(OperatorResponse::GetExecutors* out) const {
  for (const auto& [fid, framework] : frameworks_) {
    for (const auto& [key, info] : framework.executors) {
      auto* e = out->add_executors();
      *e->mutable_executor_info() = info;
      e->mutable_executor_info()->mutable_framework_id()->set_value(fid);
      e->mutable_agent_id()->set_value(key.first);
    }
  }
}

}  // namespace nucleo::master
