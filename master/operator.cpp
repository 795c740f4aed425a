// The operator API's read calls (POST /api/v1).

#include <fmt/format.h>

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
    case OperatorCall::GET_STATE: {
      r.set_type(OperatorResponse::GET_STATE);
      auto* state = r.mutable_get_state();
      fillTasks(state->mutable_get_tasks());
      fillExecutors(state->mutable_get_executors());
      fillFrameworks(state->mutable_get_frameworks());
      fillAgents(state->mutable_get_agents());
      break;
    }
    case OperatorCall::UNKNOWN:
      return OperatorAnswer{501, "Received an unexpected UNKNOWN call", {}};
    default:
      return OperatorAnswer{501, fmt::format("Operator call {} is not supported by nucleo-master yet",
                                             OperatorCall::Type_Name(call.type())), {}};
  }
  return answer;
}

void Master::fillAgents(OperatorResponse::GetAgents* out) const {
  std::map<std::string, Resources> allocated, offered;
  for (const auto& [fid, framework] : frameworks_)
    for (const auto& [tid, task] : framework.tasks)
      if (!isTerminal(task.task.state())) allocated[task.task.agent_id().value()] += task.resources;
  for (const auto& [fid, framework] : frameworks_)
    for (const auto* offer : offers_.ofFramework(fid)) offered[offer->allocation.agentId] += offer->allocation.resources;
  for (const auto& [id, agent] : agents_) {
    auto* a = out->add_agents();
    *a->mutable_agent_info() = agent.info;
    a->set_active(agent.reachable);
    a->set_version(options_.version);
    a->set_pid(fmt::format("slave(1)@{}:{}", agent.ip, agent.info.port()));
    toProto(agent.total, "", a->mutable_total_resources());
    toProto(allocated[id], "", a->mutable_allocated_resources());
    toProto(offered[id], "", a->mutable_offered_resources());
  }
  for (const auto& [id, info] : recoveredAgents_) *out->add_recovered_agents() = info;
}

void Master::fillFrameworks(OperatorResponse::GetFrameworks* out) const {
  for (const auto& [id, framework] : frameworks_) {
    auto* f = out->add_frameworks();
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
  for (const auto& id : completedFrameworks_)
    out->add_completed_frameworks()->mutable_framework_info()->mutable_id()->set_value(id);
}

void Master::fillTasks(OperatorResponse::GetTasks* out) const {
  for (const auto& [fid, framework] : frameworks_) {
    for (const auto& [tid, task] : framework.tasks) {
      if (task.task.state() == mesos::v1::TASK_UNREACHABLE)
        *out->add_unreachable_tasks() = task.task;
      else if (isTerminal(task.task.state()))
        *out->add_completed_tasks() = task.task;
      else
        *out->add_tasks() = task.task;
    }
  }
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
