// Operator maintenance and roles: DRAIN_AGENT, UPDATE_WEIGHTS, GET_ROLES.

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using OperatorCall = mesos::v1::master::Call;
using OperatorResponse = mesos::v1::master::Response;
using mesos::v1::master::DrainInfo;

OperatorAnswer Master::drainAgent(const OperatorCall::DrainAgent& drain) {
  const std::string& id = drain.agent_id().value();
  if (id.empty()) return OperatorAnswer{400, "Expecting 'drain_agent.agent_id' to be present", {}};
  if (drain.max_grace_period().nanoseconds() < 0)
    return OperatorAnswer{400, "'drain_agent.max_grace_period' must not be negative", {}};
  auto it = agents_.find(id);
  if (it == agents_.end() && !recoveredAgents_.count(id) && !unreachableAgents_.count(id))
    return OperatorAnswer{404, fmt::format("Agent '{}' is not known", id), {}};
  DrainInfo info;
  info.set_state(mesos::v1::master::DRAINING);
  if (drain.has_max_grace_period())
    *info.mutable_config()->mutable_max_grace_period() = drain.max_grace_period();
  info.mutable_config()->set_mark_gone(drain.mark_gone());
  drains_[id] = info;
  deactivatedAgents_.insert(id);
  allocator_.deactivateAgent(id);
  rescindOffers([&](const OfferRecord& r) { return r.allocation.agentId == id; }, true);
  killTasksForDrain(id);
  registryDirty_ = true;
  persist();  // answered once durable
  logging::get("master")->info("agent draining agent_id={} mark_gone={}", id, drain.mark_gone());
  return OperatorAnswer{};
}

void Master::killTasksForDrain(const std::string& agentId) {
  auto drain = drains_.find(agentId);
  if (drain == drains_.end() || drain->second.state() != mesos::v1::master::DRAINING) return;
  for (auto& [frameworkId, framework] : frameworks_) {
    for (const auto& [taskId, task] : framework.tasks) {
      if (task.task.agent_id().value() != agentId || isTerminal(task.task.state())) continue;
      nucleo::agent::Event event;
      event.set_type(nucleo::agent::Event::KILL_TASK);
      auto* kill = event.mutable_kill_task();
      kill->mutable_framework_id()->set_value(frameworkId);
      *kill->mutable_task_id() = task.task.task_id();
      if (drain->second.config().has_max_grace_period())
        *kill->mutable_kill_policy()->mutable_grace_period() =
            drain->second.config().max_grace_period();
      forwardToAgent(agentId, event);
    }
  }
}

// DRAINING becomes DRAINED when no task of the agent is left unacknowledged
// (terminal and acknowledged tasks have moved to the completed lists).
void Master::checkDrains() {
  std::set<std::string> busy;
  for (const auto& [frameworkId, framework] : frameworks_)
    for (const auto& [taskId, task] : framework.tasks) busy.insert(task.task.agent_id().value());
  std::vector<std::string> gone;
  for (auto& [id, info] : drains_) {
    if (info.state() != mesos::v1::master::DRAINING || busy.count(id)) continue;
    if (recoveredAgents_.count(id)) continue;  // its tasks are not known yet
    info.set_state(mesos::v1::master::DRAINED);
    registryDirty_ = true;
    logging::get("master")->info("agent drained agent_id={}", id);
    if (info.config().mark_gone()) gone.push_back(id);
  }
  for (const auto& id : gone) {
    if (auto it = agents_.find(id); it != agents_.end()) markGone(it->second);
    forgetAgent(id);
  }
}

OperatorAnswer Master::updateWeights(const OperatorCall::UpdateWeights& update) {
  for (const auto& w : update.weight_infos()) {
    if (auto s = validateRole(w.role()); !s) return OperatorAnswer{400, s.error().message, {}};
    if (!(w.weight() > 0) || !std::isfinite(w.weight()))
      return OperatorAnswer{400, fmt::format("weight of role '{}' must be a positive number",
                                             w.role()), {}};
    if (!options_.roles.empty() &&
        std::find(options_.roles.begin(), options_.roles.end(), w.role()) == options_.roles.end())
      return OperatorAnswer{400, fmt::format("role '{}' is not one of the master's --roles",
                                             w.role()), {}};
  }
  for (const auto& w : update.weight_infos()) {
    weights_[w.role()] = w.weight();
    allocator_.setWeight(w.role(), w.weight());
  }
  registryDirty_ = true;
  persist();  // answered once durable
  allocationDue_ = true;
  return OperatorAnswer{};
}

void Master::fillRoles(OperatorResponse::GetRoles* out) const {
  // Roles on the --roles list, with a weight, or with frameworks (as Mesos).
  std::map<std::string, mesos::v1::master::Role> roles;
  auto role = [&](const std::string& name) -> mesos::v1::master::Role& {
    auto& r = roles[name];
    if (!r.has_name()) {
      r.set_name(name);
      auto w = weights_.find(name);
      r.set_weight(w == weights_.end() ? 1.0 : w->second);
    }
    return r;
  };
  for (const auto& name : options_.roles) role(name);
  for (const auto& [name, weight] : weights_) role(name);
  std::map<std::string, Resources> allocated;
  for (const auto& [id, framework] : frameworks_) {
    for (const auto& name : framework.roles) role(name).add_frameworks()->set_value(id);
    for (const auto& [taskId, task] : framework.tasks)
      if (!isTerminal(task.task.state())) allocated[task.role] += task.resources;
    for (const auto* offer : offers_.ofFramework(id))
      allocated[offer->allocation.role] += offer->allocation.resources;
  }
  for (const auto& [name, resources] : allocated)
    if (roles.count(name)) toProto(resources, "", roles[name].mutable_resources());
  for (auto& [name, r] : roles) *out->add_roles() = std::move(r);
}

}  // namespace nucleo::master
