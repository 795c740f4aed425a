#include "master/allocator/allocator.hpp"

#include <algorithm>

namespace nucleo::master {

AllocatorOptions AllocatorOptions::defaults() {
  AllocatorOptions options;
  Resources cpus, mem;
  cpus.addScalar("cpus", 0.01);
  mem.addScalar("mem", 32);
  options.minAllocatable = {cpus, mem};
  return options;
}

Allocator::Allocator(const Clock& clock, AllocatorOptions options)
    : clock_(clock), options_(std::move(options)) {}

void Allocator::setWeight(const std::string& role, double weight) {
  roleSorter_.setWeight(role, weight);
}

DrfSorter& Allocator::frameworkSorter(const std::string& role) {
  auto [it, added] = frameworkSorters_.try_emplace(role);
  if (added) {
    it->second.setTotal(total_);
    roleSorter_.add(role);
  }
  return it->second;
}

Status Allocator::addFramework(const std::string& id, const std::vector<std::string>& roles,
                               const std::set<std::string>& suppressed) {
  if (frameworks_.count(id)) return Error::make("framework '{}' is already known", id);
  auto& framework = frameworks_[id];
  framework.roles = roles;
  for (const auto& role : suppressed)
    if (std::find(roles.begin(), roles.end(), role) != roles.end())
      framework.suppressed.insert(role);
  for (const auto& role : roles) {
    frameworkSorter(role).add(id);
    framework.sorterRoles.insert(role);
  }
  return {};
}

Status Allocator::updateFramework(const std::string& id, const std::vector<std::string>& roles,
                                  const std::set<std::string>& suppressed) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return Error::make("framework '{}' is not known", id);
  auto& framework = it->second;
  for (const auto& role : roles) {
    frameworkSorter(role).add(id);
    framework.sorterRoles.insert(role);
  }
  framework.roles = roles;
  framework.suppressed.clear();
  for (const auto& role : suppressed)
    if (subscribed(framework, role)) framework.suppressed.insert(role);
  auto held = framework.sorterRoles;  // releaseRole edits it
  for (const auto& role : held)
    if (!subscribed(framework, role)) releaseRole(id, role);
  return {};
}

void Allocator::setMinAllocatable(const std::string& id,
                                  std::map<std::string, std::vector<Resources>> minimum) {
  if (auto it = frameworks_.find(id); it != frameworks_.end())
    it->second.minAllocatable = std::move(minimum);
}

bool Allocator::subscribed(const Framework& framework, const std::string& role) const {
  return std::find(framework.roles.begin(), framework.roles.end(), role) != framework.roles.end();
}

void Allocator::releaseRole(const std::string& frameworkId, const std::string& role) {
  auto fw = frameworks_.find(frameworkId);
  auto sorter = frameworkSorters_.find(role);
  if (fw == frameworks_.end() || sorter == frameworkSorters_.end()) return;
  for (const auto& [name, amount] : sorter->second.allocation(frameworkId))
    if (amount > 1e-9) return;  // tasks of that role still run
  sorter->second.remove(frameworkId);
  fw->second.sorterRoles.erase(role);
  if (sorter->second.empty()) {
    frameworkSorters_.erase(sorter);
    roleSorter_.remove(role);
  }
}

void Allocator::removeFramework(const std::string& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  for (const auto& agentId : it->second.agents) {
    auto agent = agents_.find(agentId);
    if (agent == agents_.end()) continue;
    auto held = agent->second.allocated.find(id);
    if (held == agent->second.allocated.end()) continue;
    auto roles = held->second;  // untrack edits the map
    for (const auto& [role, resources] : roles) untrack(id, role, agent->second, resources);
    refresh(agentId);
  }
  for (const auto& role : it->second.sorterRoles) {
    auto sorter = frameworkSorters_.find(role);
    if (sorter == frameworkSorters_.end()) continue;
    sorter->second.remove(id);
    if (sorter->second.empty()) {
      frameworkSorters_.erase(sorter);
      roleSorter_.remove(role);
    }
  }
  frameworks_.erase(it);
}

void Allocator::activateFramework(const std::string& id) {
  if (auto it = frameworks_.find(id); it != frameworks_.end()) it->second.active = true;
}

void Allocator::deactivateFramework(const std::string& id) {
  if (auto it = frameworks_.find(id); it != frameworks_.end()) it->second.active = false;
}

Status Allocator::addAgent(const std::string& id, const Resources& total,
                           const std::map<std::string, std::map<std::string, Resources>>& used) {
  if (agents_.count(id)) return Error::make("agent '{}' is already known", id);
  auto& agent = agents_[id];
  agent.total = total;
  agent.available = total;
  for (const auto& [name, v] : total.quantities()) total_[name] += v;
  updateTotal();
  for (const auto& [frameworkId, roles] : used)
    for (const auto& [role, resources] : roles) track(frameworkId, role, agent, id, resources);
  refresh(id);
  return {};
}

void Allocator::removeAgent(const std::string& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  auto allocated = it->second.allocated;
  for (const auto& [frameworkId, roles] : allocated) {
    for (const auto& [role, resources] : roles) untrack(frameworkId, role, it->second, resources);
    if (auto fw = frameworks_.find(frameworkId); fw != frameworks_.end()) {
      fw->second.agents.erase(id);
      fw->second.filters.erase(id);
    }
  }
  for (const auto& [name, v] : it->second.total.quantities()) total_[name] -= v;
  agents_.erase(it);
  candidates_.erase(id);
  updateTotal();
}

void Allocator::activateAgent(const std::string& id) {
  if (auto it = agents_.find(id); it != agents_.end()) {
    it->second.active = true;
    refresh(id);
  }
}

void Allocator::deactivateAgent(const std::string& id) {
  if (auto it = agents_.find(id); it != agents_.end()) {
    it->second.active = false;
    refresh(id);
  }
}

void Allocator::recoverResources(const std::string& frameworkId, const std::string& role,
                                 const std::string& agentId, const Resources& resources,
                                 std::optional<Clock::Duration> refuse) {
  auto agent = agents_.find(agentId);
  if (agent == agents_.end() || resources.empty()) return;
  // Only what the framework really holds there comes back.
  auto held = agent->second.allocated[frameworkId][role];
  Resources back = resources;
  back -= (back - held);
  untrack(frameworkId, role, agent->second, back);
  refresh(agentId);
  auto fw = frameworks_.find(frameworkId);
  if (fw == frameworks_.end() || !refuse || *refuse <= Clock::Duration::zero()) return;
  auto duration = std::min(*refuse, options_.maxRefuse);
  fw->second.filters[agentId].push_back(Filter{resources, clock_.now() + duration});
}

void Allocator::suppress(const std::string& frameworkId, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(frameworkId);
  if (it == frameworks_.end()) return;
  for (const auto& role : roles.empty() ? it->second.roles : roles)
    if (std::find(it->second.roles.begin(), it->second.roles.end(), role) != it->second.roles.end())
      it->second.suppressed.insert(role);
}

void Allocator::revive(const std::string& frameworkId, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(frameworkId);
  if (it == frameworks_.end()) return;
  for (const auto& role : roles.empty() ? it->second.roles : roles) it->second.suppressed.erase(role);
  it->second.filters.clear();
}

std::vector<Allocation> Allocator::allocate() {
  std::vector<Allocation> out;
  // Allocating removes an agent from candidates_; walk a copy.
  std::vector<std::string> walk(candidates_.begin(), candidates_.end());
  for (const auto& agentId : walk) {
    auto agent = agents_.find(agentId);
    if (agent == agents_.end()) continue;
    if (auto allocation = allocateAgent(agentId, agent->second))
      out.push_back(std::move(*allocation));
  }
  return out;
}

std::optional<Allocation> Allocator::allocateAgent(const std::string& agentId, Agent& agent) {
  const Resources offered = agent.available;
  std::optional<Allocation> chosen;
  roleSorter_.visit([&](const std::string& role) {
    auto sorter = frameworkSorters_.find(role);
    if (sorter == frameworkSorters_.end()) return false;
    sorter->second.visit([&](const std::string& frameworkId) {
      auto& framework = frameworks_.at(frameworkId);
      if (!framework.active || framework.suppressed.count(role)) return false;
      if (!subscribed(framework, role)) return false;
      if (auto min = framework.minAllocatable.find(role);
          min != framework.minAllocatable.end() && !min->second.empty() &&
          std::none_of(min->second.begin(), min->second.end(),
                       [&](const Resources& m) { return offered.contains(m); }))
        return false;
      if (filtered(framework, agentId, offered)) return false;
      chosen = Allocation{frameworkId, role, agentId, offered};
      return true;
    });
    return chosen.has_value();
  });
  if (!chosen) return std::nullopt;
  track(chosen->frameworkId, chosen->role, agent, agentId, offered);
  refresh(agentId);
  return chosen;
}

bool Allocator::filtered(Framework& framework, const std::string& agentId,
                         const Resources& resources) {
  auto it = framework.filters.find(agentId);
  if (it == framework.filters.end()) return false;
  auto now = clock_.now();
  auto& filters = it->second;
  std::erase_if(filters, [&](const Filter& f) { return f.expiry <= now; });
  if (filters.empty()) {
    framework.filters.erase(it);
    return false;
  }
  return std::any_of(filters.begin(), filters.end(),
                     [&](const Filter& f) { return f.resources.contains(resources); });
}

void Allocator::track(const std::string& frameworkId, const std::string& role, Agent& agent,
                      const std::string& agentId, const Resources& resources) {
  agent.available -= resources;
  agent.allocated[frameworkId][role] += resources;
  if (auto fw = frameworks_.find(frameworkId); fw != frameworks_.end()) fw->second.agents.insert(agentId);
  auto amounts = resources.quantities();
  roleSorter_.allocated(role, amounts);
  if (auto sorter = frameworkSorters_.find(role); sorter != frameworkSorters_.end())
    sorter->second.allocated(frameworkId, amounts);
}

void Allocator::untrack(const std::string& frameworkId, const std::string& role, Agent& agent,
                        const Resources& resources) {
  agent.available += resources;
  auto fw = agent.allocated.find(frameworkId);
  if (fw != agent.allocated.end()) {
    auto r = fw->second.find(role);
    if (r != fw->second.end()) {
      r->second -= resources;
      if (r->second.empty()) fw->second.erase(r);
    }
    if (fw->second.empty()) agent.allocated.erase(fw);
  }
  auto amounts = resources.quantities();
  roleSorter_.unallocated(role, amounts);
  if (auto sorter = frameworkSorters_.find(role); sorter != frameworkSorters_.end())
    sorter->second.unallocated(frameworkId, amounts);
  if (auto fw = frameworks_.find(frameworkId);
      fw != frameworks_.end() && !subscribed(fw->second, role))
    releaseRole(frameworkId, role);
}

void Allocator::refresh(const std::string& agentId) {
  auto it = agents_.find(agentId);
  if (it != agents_.end() && it->second.active && offerable(it->second.available))
    candidates_.insert(agentId);
  else
    candidates_.erase(agentId);
}

bool Allocator::offerable(const Resources& resources) const {
  if (resources.empty()) return false;
  if (options_.minAllocatable.empty()) return true;
  return std::any_of(options_.minAllocatable.begin(), options_.minAllocatable.end(),
                     [&](const Resources& min) { return resources.contains(min); });
}

void Allocator::updateTotal() {
  roleSorter_.setTotal(total_);
  for (auto& [role, sorter] : frameworkSorters_) sorter.setTotal(total_);
}

Resources Allocator::available(const std::string& agentId) const {
  auto it = agents_.find(agentId);
  return it == agents_.end() ? Resources{} : it->second.available;
}

double Allocator::frameworkShare(const std::string& role, const std::string& frameworkId) const {
  auto it = frameworkSorters_.find(role);
  return it == frameworkSorters_.end() ? 0.0 : it->second.share(frameworkId);
}

}  // namespace nucleo::master
