#pragma once
// The hierarchical DRF allocator: pure, synchronous, single-threaded (the
// master calls it from its strand) and timed only by an injected Clock.
//
// Each allocate() walks the agents that have offerable resources; for each it
// picks the role with the lowest weighted dominant share, then the framework
// of that role with the lowest share that is active, not suppressed for the
// role and not filtered on that agent, and gives it everything available on
// the agent (one framework per agent at a time, as Mesos offers). Only agents
// whose available resources changed are on the walk list, so a cycle costs
// in proportion to the free agents, not to the cluster.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/result.hpp"
#include "master/allocator/clock.hpp"
#include "master/allocator/resources.hpp"
#include "master/allocator/sorter.hpp"

namespace nucleo::master {

struct AllocatorOptions {
  // An agent's free resources are offered only if they contain at least one
  // of these (Mesos's --min_allocatable_resources, default cpus:0.01|mem:32).
  std::vector<Resources> minAllocatable;
  // Upper bound for refuse_seconds (Mesos caps at 365 days).
  Clock::Duration maxRefuse = std::chrono::hours(24 * 365);

  static AllocatorOptions defaults();
};

// Resources given to one framework for one role on one agent.
struct Allocation {
  std::string frameworkId;
  std::string role;
  std::string agentId;
  Resources resources;
};

class Allocator {
 public:
  explicit Allocator(const Clock& clock, AllocatorOptions options = AllocatorOptions::defaults());

  // Weight of a role (default 1; must be > 0).
  void setWeight(const std::string& role, double weight);

  // Adds an active framework subscribed to `roles`; `suppressed` must be a
  // subset of them. Fails if the id is taken. With no roles (a MULTI_ROLE
  // framework may have none) it gets no offers.
  Status addFramework(const std::string& id, const std::vector<std::string>& roles,
                      const std::set<std::string>& suppressed = {});
  // Changes a framework's roles and suppressed roles (re-subscription,
  // UPDATE_FRAMEWORK). It stays in the sorter of a role it left while it
  // still holds resources there (tasks go on running), but gets no offers for
  // it. Fails for an unknown framework.
  Status updateFramework(const std::string& id, const std::vector<std::string>& roles,
                         const std::set<std::string>& suppressed);
  // Per-role minimum offer sizes of a framework (FrameworkInfo.offer_filters):
  // it is offered an agent's resources for a role only if they contain at
  // least one of the role's entries. Roles absent from the map use the
  // allocator-wide minimum only.
  void setMinAllocatable(const std::string& id,
                         std::map<std::string, std::vector<Resources>> minimum);
  // Removes a framework and frees everything it holds (offers and tasks):
  // the caller must not recover those resources again.
  void removeFramework(const std::string& id);
  // An inactive framework keeps its allocations but gets no offers.
  void activateFramework(const std::string& id);
  void deactivateFramework(const std::string& id);
  bool hasFramework(const std::string& id) const { return frameworks_.count(id) != 0; }

  // Adds an agent with `total` resources of which `used` are already held
  // (re-registration): used[framework][role]. Fails if the id is taken.
  Status addAgent(const std::string& id, const Resources& total,
                  const std::map<std::string, std::map<std::string, Resources>>& used = {});
  // Removes an agent and every allocation on it.
  void removeAgent(const std::string& id);
  // A deactivated agent (maintenance, unreachable) is not offered.
  void activateAgent(const std::string& id);
  void deactivateAgent(const std::string& id);

  // Gives back resources a framework held on an agent for a role (declined,
  // unused in an ACCEPT, rescinded, task ended). With refuse, the framework
  // is not offered these resources (or less) on that agent for that long.
  void recoverResources(const std::string& frameworkId, const std::string& role,
                        const std::string& agentId, const Resources& resources,
                        std::optional<Clock::Duration> refuse = std::nullopt);

  // Stops / resumes offers to a framework for the given roles (all of its
  // roles when empty). Reviving also clears the framework's filters.
  void suppress(const std::string& frameworkId, const std::vector<std::string>& roles);
  void revive(const std::string& frameworkId, const std::vector<std::string>& roles);

  // One allocation cycle.
  std::vector<Allocation> allocate();

  // Free resources on an agent (empty for unknown agents).
  Resources available(const std::string& agentId) const;
  double roleShare(const std::string& role) const { return roleSorter_.share(role); }
  double frameworkShare(const std::string& role, const std::string& frameworkId) const;
  size_t agentCount() const { return agents_.size(); }

 private:
  struct Filter {
    Resources resources;
    Clock::TimePoint expiry;
  };
  struct Framework {
    std::vector<std::string> roles;
    std::set<std::string> sorterRoles;  // roles whose sorter holds it
    std::set<std::string> suppressed;
    std::map<std::string, std::vector<Resources>> minAllocatable;  // by role
    bool active = true;
    std::unordered_map<std::string, std::vector<Filter>> filters;  // by agent
    std::unordered_set<std::string> agents;  // where it holds resources
  };
  struct Agent {
    Resources total;
    Resources available;
    bool active = true;
    // framework -> role -> resources held on this agent
    std::map<std::string, std::map<std::string, Resources>> allocated;
  };

  void track(const std::string& frameworkId, const std::string& role, Agent& agent,
             const std::string& agentId, const Resources& resources);
  void untrack(const std::string& frameworkId, const std::string& role, Agent& agent,
               const Resources& resources);
  void refresh(const std::string& agentId);
  // Drops a framework from the sorter of a role it left once it holds
  // nothing there any more.
  void releaseRole(const std::string& frameworkId, const std::string& role);
  bool subscribed(const Framework& framework, const std::string& role) const;
  bool offerable(const Resources& resources) const;
  bool filtered(Framework& framework, const std::string& agentId, const Resources& resources);
  std::optional<Allocation> allocateAgent(const std::string& agentId, Agent& agent);
  void updateTotal();
  DrfSorter& frameworkSorter(const std::string& role);

  const Clock& clock_;
  AllocatorOptions options_;
  std::unordered_map<std::string, Framework> frameworks_;
  std::unordered_map<std::string, Agent> agents_;
  std::set<std::string> candidates_;  // agents with offerable free resources
  Quantities total_;
  DrfSorter roleSorter_;
  std::map<std::string, DrfSorter> frameworkSorters_;  // by role
};

}  // namespace nucleo::master
