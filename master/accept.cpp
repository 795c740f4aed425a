// ACCEPT: offer validation, LAUNCH and LAUNCH_GROUP, and the allocation cycle
// that produces the offers.

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

struct Master::LaunchBudget {
  std::string agentId;
  std::string role;
  Resources remaining;
  std::set<std::string> taskIds;  // launched by this ACCEPT
};

namespace {

double wallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<const mesos::v1::TaskInfo*> tasksOf(const mesos::v1::Offer::Operation& op) {
  std::vector<const mesos::v1::TaskInfo*> out;
  if (op.type() == mesos::v1::Offer::Operation::LAUNCH)
    for (const auto& t : op.launch().task_infos()) out.push_back(&t);
  if (op.type() == mesos::v1::Offer::Operation::LAUNCH_GROUP)
    for (const auto& t : op.launch_group().task_group().tasks()) out.push_back(&t);
  return out;
}

}  // namespace

void Master::allocate() {
  auto start = std::chrono::steady_clock::now();
  allocationDue_ = false;
  lastAllocation_ = clock_.now();
  auto allocations = allocator_.allocate();
  std::map<std::string, Event> events;
  for (auto& allocation : allocations) {
    Framework* framework = findFramework(allocation.frameworkId);
    auto agent = agents_.find(allocation.agentId);
    if (!framework || !framework->stream || agent == agents_.end()) {
      allocator_.recoverResources(allocation.frameworkId, allocation.role, allocation.agentId,
                                  allocation.resources);
      continue;
    }
    const OfferRecord& record = offers_.add(std::move(allocation));
    auto& event = events[framework->id];
    event.set_type(Event::OFFERS);
    auto* offer = event.mutable_offers()->add_offers();
    offer->mutable_id()->set_value(record.id);
    offer->mutable_framework_id()->set_value(framework->id);
    offer->mutable_agent_id()->set_value(agent->first);
    offer->set_hostname(agent->second.info.hostname());
    auto* url = offer->mutable_url();
    url->set_scheme("http");
    url->mutable_address()->set_hostname(agent->second.info.hostname());
    url->mutable_address()->set_ip(agent->second.ip);
    url->mutable_address()->set_port(agent->second.info.port());
    url->set_path("/slave(1)");
    const std::string& role = record.allocation.role;
    toProto(record.allocation.resources, framework->multiRole ? role : "",
            offer->mutable_resources());
    if (framework->multiRole) offer->mutable_allocation_info()->set_role(role);
    *offer->mutable_attributes() = agent->second.info.attributes();
    for (const auto& [key, info] : framework->executors)
      if (key.first == agent->first) *offer->add_executor_ids() = info.executor_id();
    ++counters_.offersSent;
  }
  for (auto& [frameworkId, event] : events)
    if (Framework* framework = findFramework(frameworkId)) sendEvent(*framework, event);
  ++counters_.allocationCycles;
  counters_.lastAllocationSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  counters_.maxAllocationSeconds =
      std::max(counters_.maxAllocationSeconds, counters_.lastAllocationSeconds);
}

void Master::accept(Framework& framework, const Call::Accept& accept) {
  std::string invalid;
  std::vector<OfferRecord> taken;
  std::set<std::string> seen;
  if (accept.offer_ids().empty()) invalid = "No offers specified";
  for (const auto& offerId : accept.offer_ids()) {
    const std::string& id = offerId.value();
    const OfferRecord* record = offers_.find(id);
    if (!seen.insert(id).second) {
      invalid = fmt::format("Duplicate offer {} in ACCEPT", id);
    } else if (!record) {
      invalid = fmt::format("Offer {} is no longer valid", id);
    } else if (record->allocation.frameworkId != framework.id) {
      invalid = fmt::format("Offer {} is not for framework {}", id, framework.id);
    } else {
      taken.push_back(*offers_.take(id));
    }
  }
  LaunchBudget budget;
  for (const auto& record : taken) {
    const auto& a = record.allocation;
    if (budget.agentId.empty()) {
      budget.agentId = a.agentId;
      budget.role = a.role;
    } else if (a.agentId != budget.agentId) {
      invalid = "Aggregated offers must belong to one single agent";
    } else if (a.role != budget.role) {
      invalid = "Aggregated offers must be allocated to one single role";
    }
    budget.remaining += a.resources;
  }
  if (!invalid.empty()) {
    for (const auto& record : taken) {
      const auto& a = record.allocation;
      allocator_.recoverResources(a.frameworkId, a.role, a.agentId, a.resources);
    }
    allocationDue_ = true;
    auto state = framework.partitionAware ? mesos::v1::TASK_DROPPED : mesos::v1::TASK_LOST;
    for (const auto& op : accept.operations())
      for (const auto* task : tasksOf(op))
        sendTaskStatus(framework, task->task_id(), state,
                       mesos::v1::TaskStatus::REASON_INVALID_OFFERS, invalid);
    return;
  }
  for (const auto& op : accept.operations()) {
    switch (op.type()) {
      case mesos::v1::Offer::Operation::LAUNCH: launchTasks(framework, budget, op); break;
      case mesos::v1::Offer::Operation::LAUNCH_GROUP: launchGroup(framework, budget, op); break;
      default: {
        std::string message = fmt::format(
            "Operation {} is not supported by nucleo-master; only LAUNCH and LAUNCH_GROUP are",
            mesos::v1::Offer::Operation::Type_Name(op.type()));
        logging::get("master")->warn("framework_id={} {}", framework.id, message);
        if (!op.has_id()) break;
        Event event;
        event.set_type(Event::UPDATE_OPERATION_STATUS);
        auto* status = event.mutable_update_operation_status()->mutable_status();
        *status->mutable_operation_id() = op.id();
        status->set_state(mesos::v1::OPERATION_ERROR);
        status->set_message(message);
        status->mutable_agent_id()->set_value(budget.agentId);
        sendEvent(framework, event);
      }
    }
  }
  double refuse = accept.filters().refuse_seconds();
  if (!std::isfinite(refuse) || refuse < 0) refuse = 5.0;
  allocator_.recoverResources(framework.id, budget.role, budget.agentId, budget.remaining,
                              seconds(refuse));
}

namespace {

Status validateExecutor(const std::string& frameworkId, const mesos::v1::ExecutorInfo& executor,
                        Resources* resources) {
  if (!executor.has_executor_id()) return Error::make("Expecting 'executor.executor_id' to be present");
  TRY(validateId("executor id", executor.executor_id().value()));
  if (executor.has_framework_id() && executor.framework_id().value() != frameworkId)
    return Error::make("ExecutorInfo has an invalid FrameworkID (actual: {} vs expected: {})",
                       executor.framework_id().value(), frameworkId);
  TRY_ASSIGN(*resources, fromProto(executor.resources()).context("Executor uses invalid resources"));
  return {};
}

}  // namespace

Status Master::validateTask(const Framework& framework, const LaunchBudget& budget,
                            const mesos::v1::TaskInfo& task, Resources* needed) const {
  if (!task.has_name()) return Error::make("Expecting 'name' to be present");
  if (!task.has_task_id()) return Error::make("Expecting 'task_id' to be present");
  TRY(validateId("task id", task.task_id().value()));
  const std::string& id = task.task_id().value();
  if (framework.tasks.count(id) || budget.taskIds.count(id))
    return Error::make("Task has duplicate ID: {}", id);
  if (task.agent_id().value() != budget.agentId)
    return Error::make("Task uses agent ID '{}' but the offers are for agent '{}'",
                       task.agent_id().value(), budget.agentId);
  if (task.has_command() == task.has_executor())
    return Error::make("Task should have at least one (but not both) of CommandInfo or "
                       "ExecutorInfo present");
  TRY_ASSIGN(*needed, fromProto(task.resources()).context("Task uses invalid resources"));
  if (needed->empty()) return Error::make("Task uses no resources");
  if (task.kill_policy().grace_period().nanoseconds() < 0)
    return Error::make("Task's 'kill_policy.grace_period' must be non-negative");
  if (task.has_executor()) {
    Resources executorResources;
    TRY(validateExecutor(framework.id, task.executor(), &executorResources));
    auto known = framework.executors.find({budget.agentId, task.executor().executor_id().value()});
    if (known == framework.executors.end()) {
      *needed += executorResources;
    } else if (known->second.SerializeAsString() != task.executor().SerializeAsString()) {
      return Error::make("ExecutorInfo is not compatible with the existing ExecutorInfo of '{}'",
                         task.executor().executor_id().value());
    }
  }
  if (!budget.remaining.contains(*needed))
    return Error::make("Total resources {} required by task '{}' is more than available {}",
                       needed->toString(), id, budget.remaining.toString());
  return {};
}

void Master::launchTasks(Framework& framework, LaunchBudget& budget,
                         const mesos::v1::Offer::Operation& operation) {
  for (const auto& task : operation.launch().task_infos()) {
    Resources needed;
    if (auto status = validateTask(framework, budget, task, &needed); !status) {
      ++counters_.tasksInvalid;
      sendTaskStatus(framework, task.task_id(), mesos::v1::TASK_ERROR,
                     mesos::v1::TaskStatus::REASON_TASK_INVALID, status.error().message,
                     budget.agentId);
      continue;
    }
    startTask(framework, budget, task, needed);
    nucleo::agent::Event event;
    event.set_type(nucleo::agent::Event::RUN_TASK);
    *event.mutable_run_task()->mutable_framework() = framework.info;
    *event.mutable_run_task()->mutable_task() = task;
    forwardToAgent(budget.agentId, event);
  }
}

void Master::launchGroup(Framework& framework, LaunchBudget& budget,
                         const mesos::v1::Offer::Operation& operation) {
  const auto& group = operation.launch_group();
  Resources total;
  Resources executorShare;  // a new executor's resources, carried by the first task
  Status status = [&]() -> Status {
    if (!group.has_executor()) return Error::make("Expecting 'launch_group.executor' to be present");
    if (group.task_group().tasks().empty()) return Error::make("Task group has no tasks");
    Resources executorResources;
    TRY(validateExecutor(framework.id, group.executor(), &executorResources));
    if (!framework.executors.count({budget.agentId, group.executor().executor_id().value()}))
      executorShare = executorResources;
    total += executorShare;
    LaunchBudget scratch = budget;
    for (const auto& task : group.task_group().tasks()) {
      if (task.has_executor()) return Error::make("Task '{}' in a task group must not set 'executor'",
                                                  task.task_id().value());
      Resources needed;
      scratch.remaining = budget.remaining;  // checked in total below
      TRY(validateTask(framework, scratch, task, &needed).context("task '{}'", task.task_id().value()));
      scratch.taskIds.insert(task.task_id().value());
      total += needed;
    }
    if (!budget.remaining.contains(total))
      return Error::make("Total resources {} required by the task group is more than available {}",
                         total.toString(), budget.remaining.toString());
    return {};
  }();
  if (!status) {
    for (const auto& task : group.task_group().tasks()) {
      ++counters_.tasksInvalid;
      sendTaskStatus(framework, task.task_id(), mesos::v1::TASK_ERROR,
                     mesos::v1::TaskStatus::REASON_TASK_GROUP_INVALID, status.error().message,
                     budget.agentId);
    }
    return;
  }
  framework.executors[{budget.agentId, group.executor().executor_id().value()}] = group.executor();
  bool first = true;
  for (auto task : group.task_group().tasks()) {
    Resources needed = *fromProto(task.resources());
    if (first) needed += executorShare;
    first = false;
    *task.mutable_executor() = group.executor();
    startTask(framework, budget, task, needed);
  }
  nucleo::agent::Event event;
  event.set_type(nucleo::agent::Event::RUN_TASK_GROUP);
  *event.mutable_run_task_group()->mutable_framework() = framework.info;
  *event.mutable_run_task_group()->mutable_executor() = group.executor();
  *event.mutable_run_task_group()->mutable_task_group() = group.task_group();
  forwardToAgent(budget.agentId, event);
}

void Master::startTask(Framework& framework, LaunchBudget& budget,
                       const mesos::v1::TaskInfo& info, const Resources& resources) {
  budget.remaining -= resources;
  budget.taskIds.insert(info.task_id().value());
  if (info.has_executor())
    framework.executors[{budget.agentId, info.executor().executor_id().value()}] = info.executor();
  Task& task = framework.tasks[info.task_id().value()];
  task.role = budget.role;
  task.resources = resources;
  auto& t = task.task;
  t.set_name(info.name());
  *t.mutable_task_id() = info.task_id();
  t.mutable_framework_id()->set_value(framework.id);
  if (info.has_executor()) *t.mutable_executor_id() = info.executor().executor_id();
  t.mutable_agent_id()->set_value(budget.agentId);
  t.set_state(mesos::v1::TASK_STAGING);
  *t.mutable_resources() = info.resources();
  if (info.has_labels()) *t.mutable_labels() = info.labels();
  if (info.has_container()) *t.mutable_container() = info.container();
  t.set_user(info.command().has_user() ? info.command().user() : framework.info.user());
  ++counters_.tasksLaunched;
  publishTaskAdded(t);
}

mesos::v1::TaskStatus Master::sendTaskStatus(Framework& framework,
                                             const mesos::v1::TaskID& taskId,
                                             mesos::v1::TaskState state,
                                             mesos::v1::TaskStatus::Reason reason,
                                             const std::string& message,
                                             const std::string& agentId) {
  Event event;
  event.set_type(Event::UPDATE);
  auto* status = event.mutable_update()->mutable_status();
  *status->mutable_task_id() = taskId;
  status->set_state(state);
  status->set_reason(reason);
  status->set_source(mesos::v1::TaskStatus::SOURCE_MASTER);
  status->set_message(message);
  status->set_timestamp(wallSeconds());
  if (!agentId.empty()) status->mutable_agent_id()->set_value(agentId);
  sendEvent(framework, event);
  return event.update().status();
}

}  // namespace nucleo::master
