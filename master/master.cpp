#include "master/master.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"

namespace nucleo::master {

using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

namespace {

Response error(int status, std::string message) { return Response{status, std::move(message), {}}; }

}  // namespace

Master::Master(MasterOptions options, const Clock& clock, Registry* registry)
    : options_(std::move(options)),
      clock_(clock),
      id_(randomUuidString()),
      allocator_(clock),
      offers_(clock, id_, options_.offerTimeout),
      lastAllocation_(clock.now()),
      registry_(registry) {
  if (options_.hostname.empty()) options_.hostname = options_.ip;
  weights_ = options_.weights;
  for (const auto& [role, weight] : weights_) allocator_.setWeight(role, weight);
}

Status Master::recover() {
  if (!registry_) return {};
  TRY_ASSIGN(auto registry, registry_->load());
  auto now = clock_.now();
  recoveredAt_ = now;
  for (const auto& agent : registry.agents()) {
    const std::string& id = agent.info().id().value();
    if (agent.gone()) {
      goneAgents_.insert(id);
      continue;
    }
    if (agent.unreachable())
      unreachableAgents_[id] = agent.info();
    else
      recoveredAgents_[id] = agent.info();
    if (agent.deactivated()) deactivatedAgents_.insert(id);
    if (agent.has_drain()) drains_[id] = agent.drain();
  }
  if (!registry.weights().empty()) {
    // Weights set by operators override --weights, as in Mesos.
    for (const auto& [role, weight] : weights_) allocator_.setWeight(role, 1.0);
    weights_.clear();
    for (const auto& w : registry.weights()) {
      weights_[w.role()] = w.weight();
      allocator_.setWeight(w.role(), w.weight());
    }
  }
  for (const auto& framework : registry.frameworks())
    recoveredFrameworks_[framework.info().id().value()] = {
        framework.info(), now + seconds(framework.info().failover_timeout())};
  completedFrameworks_.insert(registry.completed_frameworks().begin(),
                              registry.completed_frameworks().end());
  logging::get("master")->info("recovered agents={} frameworks={} completed_frameworks={}",
                               recoveredAgents_.size(), recoveredFrameworks_.size(),
                               completedFrameworks_.size());
  return {};
}

void Master::persist() {
  registryDirty_ = false;
  if (!registry_) return releaseRegistered();
  nucleo::registry::Registry registry;
  auto addAgent = [&](const std::string& id, const mesos::v1::AgentInfo& info, bool unreachable) {
    auto* a = registry.add_agents();
    *a->mutable_info() = info;
    a->set_unreachable(unreachable);
    a->set_deactivated(deactivatedAgents_.count(id) != 0);
    if (auto drain = drains_.find(id); drain != drains_.end()) *a->mutable_drain() = drain->second;
  };
  for (const auto& [id, agent] : agents_) addAgent(id, agent.info, !agent.reachable);
  for (const auto& [id, info] : recoveredAgents_) addAgent(id, info, false);
  for (const auto& [id, info] : unreachableAgents_) addAgent(id, info, true);
  for (const auto& [role, weight] : weights_) {
    auto* w = registry.add_weights();
    w->set_role(role);
    w->set_weight(weight);
  }
  for (const auto& id : goneAgents_) {
    auto* a = registry.add_agents();
    a->mutable_info()->mutable_id()->set_value(id);
    a->set_gone(true);
  }
  for (const auto& [id, framework] : frameworks_) *registry.add_frameworks()->mutable_info() = framework.info;
  for (const auto& [id, recovered] : recoveredFrameworks_)
    *registry.add_frameworks()->mutable_info() = recovered.first;
  for (const auto& id : completedFrameworks_) registry.add_completed_frameworks(id);
  if (auto s = registry_->store(registry); !s) {
    registryDirty_ = true;  // retried at the next tick
    logging::get("master")->error("{}", s.error().message);
    return;
  }
  releaseRegistered();
}

void Master::releaseRegistered() {
  for (auto& pending : std::exchange(pendingRegistered_, {})) {
    auto stream = pending.stream.lock();
    auto it = agents_.find(pending.agentId);
    if (!stream || it == agents_.end() || it->second.stream != stream) continue;
    stream->send(pending.event);
    if (pending.event.type() == nucleo::agent::Event::REGISTERED && drains_.count(pending.agentId))
      killTasksForDrain(pending.agentId);
  }
}

std::optional<Response> Master::validateCall(const Call& call) const {
  if (!call.has_type()) return error(400, "Expecting 'type' to be present");
  if (call.type() != Call::SUBSCRIBE && !call.has_framework_id())
    return error(400, "Expecting 'framework_id' to be present");
  if (call.has_framework_id()) {
    if (auto s = validateId("framework_id", call.framework_id().value()); !s)
      return error(400, s.error().message);
  }
  auto expect = [](bool present, const char* field) -> std::optional<Response> {
    if (present) return std::nullopt;
    return error(400, fmt::format("Expecting '{}' to be present", field));
  };
  switch (call.type()) {
    case Call::SUBSCRIBE:
      if (auto e = expect(call.has_subscribe(), "subscribe")) return e;
      return expect(call.subscribe().has_framework_info(), "subscribe.framework_info");
    case Call::ACCEPT: return expect(call.has_accept(), "accept");
    case Call::DECLINE: return expect(call.has_decline(), "decline");
    case Call::ACCEPT_INVERSE_OFFERS:
      return expect(call.has_accept_inverse_offers(), "accept_inverse_offers");
    case Call::DECLINE_INVERSE_OFFERS:
      return expect(call.has_decline_inverse_offers(), "decline_inverse_offers");
    case Call::KILL:
      if (auto e = expect(call.has_kill(), "kill")) return e;
      return expect(call.kill().has_task_id(), "kill.task_id");
    case Call::SHUTDOWN:
      if (auto e = expect(call.has_shutdown(), "shutdown")) return e;
      if (auto e = expect(call.shutdown().has_executor_id(), "shutdown.executor_id")) return e;
      return expect(call.shutdown().has_agent_id(), "shutdown.agent_id");
    case Call::ACKNOWLEDGE: {
      if (auto e = expect(call.has_acknowledge(), "acknowledge")) return e;
      const auto& ack = call.acknowledge();
      if (auto e = expect(ack.has_agent_id(), "acknowledge.agent_id")) return e;
      if (auto e = expect(ack.has_task_id(), "acknowledge.task_id")) return e;
      if (auto e = expect(ack.has_uuid(), "acknowledge.uuid")) return e;
      if (ack.uuid().size() != 16)
        return error(400, "'acknowledge.uuid' must be a 16-byte UUID (base64 in JSON)");
      return std::nullopt;
    }
    case Call::RECONCILE:
      if (auto e = expect(call.has_reconcile(), "reconcile")) return e;
      for (const auto& task : call.reconcile().tasks())
        if (auto e = expect(task.has_task_id(), "reconcile.tasks.task_id")) return e;
      return std::nullopt;
    case Call::MESSAGE:
      if (auto e = expect(call.has_message(), "message")) return e;
      if (auto e = expect(call.message().has_agent_id(), "message.agent_id")) return e;
      if (auto e = expect(call.message().has_executor_id(), "message.executor_id")) return e;
      return expect(call.message().has_data(), "message.data");
    case Call::REQUEST: return expect(call.has_request(), "request");
    case Call::UPDATE_FRAMEWORK:
      if (auto e = expect(call.has_update_framework(), "update_framework")) return e;
      return expect(call.update_framework().has_framework_info(),
                    "update_framework.framework_info");
    default: return std::nullopt;
  }
}

Response Master::schedulerCall(const Call& call, const CallContext& context,
                               std::shared_ptr<EventStream> stream) {
  if (auto invalid = validateCall(call))
    return error(invalid->status, "Failed to validate scheduler::Call: " + invalid->body);
  if (call.type() == Call::SUBSCRIBE) return subscribe(call, context, std::move(stream));

  Framework* framework = findFramework(call.framework_id().value());
  if (!framework) return error(400, "Framework cannot be found");
  if (!options_.credentials.empty() && framework->info.principal() != context.principal)
    return error(403, fmt::format("Authenticated principal '{}' does not match principal '{}' "
                                  "set in FrameworkInfo",
                                  context.principal, framework->info.principal()));
  if (!framework->stream) return error(403, "Framework is not subscribed");
  if (context.streamId.empty())
    return error(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  if (context.streamId != framework->streamId)
    return error(400, fmt::format("The stream ID '{}' included in this request didn't match the "
                                  "stream ID currently associated with framework ID {}",
                                  context.streamId, framework->id));

  switch (call.type()) {
    case Call::TEARDOWN: teardown(*framework); break;
    case Call::ACCEPT: accept(*framework, call.accept()); break;
    case Call::DECLINE: decline(*framework, call.decline()); break;
    case Call::REVIVE:
    case Call::SUPPRESS: return reviveOrSuppress(*framework, call);
    case Call::KILL: kill(*framework, call.kill()); break;
    case Call::SHUTDOWN: {
      nucleo::agent::Event event;
      event.set_type(nucleo::agent::Event::SHUTDOWN_EXECUTOR);
      event.mutable_shutdown_executor()->mutable_framework_id()->set_value(framework->id);
      *event.mutable_shutdown_executor()->mutable_executor_id() = call.shutdown().executor_id();
      forwardToAgent(call.shutdown().agent_id().value(), event);
      break;
    }
    case Call::ACKNOWLEDGE: acknowledge(*framework, call.acknowledge()); break;
    case Call::UPDATE_FRAMEWORK: return updateFramework(*framework, call, context);
    case Call::RECONCILE: reconcile(*framework, call.reconcile()); break;
    case Call::MESSAGE: {
      nucleo::agent::Event event;
      event.set_type(nucleo::agent::Event::FRAMEWORK_MESSAGE);
      auto* m = event.mutable_framework_message();
      m->mutable_framework_id()->set_value(framework->id);
      *m->mutable_executor_id() = call.message().executor_id();
      m->set_data(call.message().data());
      forwardToAgent(call.message().agent_id().value(), event);
      break;
    }
    case Call::REQUEST:  // ignored by the built-in allocator, as in Mesos
    case Call::ACCEPT_INVERSE_OFFERS:
    case Call::DECLINE_INVERSE_OFFERS:  // no maintenance schedules: no inverse offers
      break;
    case Call::UNKNOWN: return error(501, "Received an unexpected UNKNOWN call");
    default:
      return error(501, fmt::format("Call {} is not supported by nucleo-master yet",
                                    Call::Type_Name(call.type())));
  }
  return Response{};
}

std::optional<Response> Master::validateSubscribe(const Call& call, const CallContext& context,
                                                  std::vector<std::string>* roles,
                                                  std::set<std::string>* suppressed) const {
  if (!context.streamId.empty())
    return error(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  const auto& info = call.subscribe().framework_info();
  if (!info.has_user()) return error(400, "Expecting 'framework_info.user' to be present");
  if (!info.has_name()) return error(400, "Expecting 'framework_info.name' to be present");
  if (call.has_framework_id() != info.has_id() ||
      call.framework_id().value() != info.id().value())
    return error(400, "'framework_id' differs from 'subscribe.framework_info.id'");

  if (auto invalid = validateRoles(info, call.subscribe().suppressed_roles(), roles, suppressed))
    return invalid;
  if (call.subscribe().has_offer_constraints() &&
      call.subscribe().offer_constraints().role_constraints_size() > 0)
    return error(400, "'subscribe.offer_constraints' are not supported by nucleo-master");
  if (!options_.credentials.empty() && info.principal() != context.principal)
    return error(403, fmt::format("Authenticated principal '{}' does not match principal '{}' "
                                  "set in FrameworkInfo",
                                  context.principal, info.principal()));

  return std::nullopt;
}

Response Master::subscribe(const Call& call, const CallContext& context,
                           std::shared_ptr<EventStream> stream) {
  std::vector<std::string> roles;
  std::set<std::string> suppressed;
  if (auto invalid = validateSubscribe(call, context, &roles, &suppressed)) return *invalid;
  const auto& info = call.subscribe().framework_info();
  std::string id = info.id().value();
  std::string streamId = randomUuidString();
  if (!id.empty() && completedFrameworks_.count(id)) {
    Event event;
    event.set_type(Event::ERROR);
    event.mutable_error()->set_message("Framework has been removed");
    stream->send(event);
    stream->close();
    return Response{200, "", streamId};
  }
  recoveredFrameworks_.erase(id);
  registryDirty_ = true;
  Framework* framework = id.empty() ? nullptr : findFramework(id);
  bool added = framework == nullptr;
  if (framework) {
    if (framework->stream) {
      streamOwners_.erase(framework->stream.get());
      Event event;
      event.set_type(Event::ERROR);
      event.mutable_error()->set_message("Framework failed over");
      framework->stream->send(event);
      framework->stream->close();
      framework->stream.reset();
    }
    rescindOffers([&](const OfferRecord& r) { return r.allocation.frameworkId == id; }, false);
    allocator_.activateFramework(id);
    allocator_.revive(id, {});
  } else {
    if (id.empty()) id = fmt::format("{}-{:04}", id_, nextFramework_++);
    framework = &frameworks_[id];
    framework->id = id;
    framework->roles = roles;
    framework->info = info;  // a new framework's user and checkpoint count
    if (auto s = allocator_.addFramework(id, roles); !s) return error(500, s.error().message);
  }
  mesos::v1::FrameworkInfo updated = info;
  updated.mutable_id()->set_value(id);
  framework->stream = std::move(stream);
  framework->streamId = streamId;
  framework->failoverDeadline.reset();
  framework->lastHeartbeat = clock_.now();
  streamOwners_[framework->stream.get()] = "f:" + id;
  applyFrameworkInfo(*framework, updated, roles, suppressed);
  publishFramework(*framework, added);

  Event event;
  event.set_type(Event::SUBSCRIBED);
  event.mutable_subscribed()->mutable_framework_id()->set_value(id);
  event.mutable_subscribed()->set_heartbeat_interval_seconds(
      std::chrono::duration<double>(options_.heartbeatInterval).count());
  *event.mutable_subscribed()->mutable_master_info() = masterInfo();
  sendEvent(*framework, event);
  allocationDue_ = true;
  logging::get("master")->info("framework subscribed framework_id={} name={}", id, info.name());
  return Response{200, "", streamId};
}

void Master::teardown(Framework& framework) {
  logging::get("master")->info("framework teardown framework_id={}", framework.id);
  removeFramework(framework.id);
}

void Master::decline(Framework& framework, const Call::Decline& decline) {
  double refuse = decline.filters().refuse_seconds();
  if (!std::isfinite(refuse) || refuse < 0) refuse = 5.0;
  for (const auto& offerId : decline.offer_ids()) {
    const OfferRecord* record = offers_.find(offerId.value());
    if (!record || record->allocation.frameworkId != framework.id) continue;
    auto taken = *offers_.take(offerId.value());
    allocator_.recoverResources(framework.id, taken.allocation.role, taken.allocation.agentId,
                                taken.allocation.resources, seconds(refuse));
    ++counters_.offersDeclined;
  }
}

void Master::kill(Framework& framework, const Call::Kill& kill) {
  auto it = framework.tasks.find(kill.task_id().value());
  if (it == framework.tasks.end()) {
    Call::Reconcile reconcile;
    auto* task = reconcile.add_tasks();
    *task->mutable_task_id() = kill.task_id();
    if (kill.has_agent_id()) *task->mutable_agent_id() = kill.agent_id();
    this->reconcile(framework, reconcile);
    return;
  }
  nucleo::agent::Event event;
  event.set_type(nucleo::agent::Event::KILL_TASK);
  event.mutable_kill_task()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_kill_task()->mutable_task_id() = kill.task_id();
  if (kill.has_kill_policy()) *event.mutable_kill_task()->mutable_kill_policy() = kill.kill_policy();
  forwardToAgent(it->second.task.agent_id().value(), event);
}

void Master::acknowledge(Framework& framework, const Call::Acknowledge& ack) {
  nucleo::agent::Event event;
  event.set_type(nucleo::agent::Event::ACKNOWLEDGE);
  event.mutable_acknowledge()->mutable_framework_id()->set_value(framework.id);
  *event.mutable_acknowledge()->mutable_task_id() = ack.task_id();
  event.mutable_acknowledge()->set_uuid(ack.uuid());
  forwardToAgent(ack.agent_id().value(), event);
  auto it = framework.tasks.find(ack.task_id().value());
  if (it != framework.tasks.end() && isTerminal(it->second.task.state()) &&
      it->second.task.status_update_uuid() == ack.uuid())
    completeTask(framework, it);
}

void Master::completeTask(Framework& framework, std::map<std::string, Task>::iterator task) {
  if (options_.maxCompletedTasksPerFramework > 0) {
    if (framework.completedTasks.size() >= options_.maxCompletedTasksPerFramework)
      framework.completedTasks.pop_front();
    framework.completedTasks.push_back(std::move(task->second.task));
  }
  framework.tasks.erase(task);
}

void Master::reconcile(Framework& framework, const Call::Reconcile& reconcile) {
  auto answer = [&](const mesos::v1::TaskID& taskId, mesos::v1::TaskState state,
                    const std::string& agentId) {
    sendTaskStatus(framework, taskId, state, mesos::v1::TaskStatus::REASON_RECONCILIATION,
                   "Reconciliation: Latest task state", agentId);
  };
  if (reconcile.tasks().empty()) {
    for (const auto& [id, task] : framework.tasks)
      answer(task.task.task_id(), task.task.state(), task.task.agent_id().value());
    return;
  }
  for (const auto& request : reconcile.tasks()) {
    auto it = framework.tasks.find(request.task_id().value());
    if (it != framework.tasks.end())
      answer(request.task_id(), it->second.task.state(), it->second.task.agent_id().value());
    else if (auto state = unknownTaskState(framework, request.agent_id().value()))
      answer(request.task_id(), *state, request.agent_id().value());
  }
}

std::optional<mesos::v1::TaskState> Master::unknownTaskState(const Framework& framework,
                                                             const std::string& agentId) const {
  // An agent from the registry that has not re-registered yet may still
  // report the task: no answer until it does or its time runs out.
  if (recoveredAgents_.count(agentId)) return std::nullopt;
  if (!framework.partitionAware) return mesos::v1::TASK_LOST;
  if (goneAgents_.count(agentId)) return mesos::v1::TASK_GONE_BY_OPERATOR;
  if (unreachableAgents_.count(agentId)) return mesos::v1::TASK_UNREACHABLE;
  auto agent = agents_.find(agentId);
  if (agentId.empty() || agent == agents_.end()) return mesos::v1::TASK_UNKNOWN;
  return agent->second.reachable ? mesos::v1::TASK_GONE : mesos::v1::TASK_UNREACHABLE;
}

Response Master::reviveOrSuppress(Framework& framework, const Call& call) {
  bool revive = call.type() == Call::REVIVE;
  const auto& roles = revive ? call.revive().roles() : call.suppress().roles();
  for (const auto& role : roles)
    if (std::find(framework.roles.begin(), framework.roles.end(), role) == framework.roles.end())
      return error(400, fmt::format("role '{}' is not one of the framework's roles", role));
  std::vector<std::string> list(roles.begin(), roles.end());
  if (revive) {
    allocator_.revive(framework.id, list);
    allocationDue_ = true;
  } else {
    allocator_.suppress(framework.id, list);
  }
  return Response{};
}

void Master::streamClosed(const EventStream* stream) {
  auto it = streamOwners_.find(stream);
  if (it == streamOwners_.end()) return;
  std::string owner = it->second;
  streamOwners_.erase(it);
  std::string id = owner.substr(2);
  if (owner[0] == 'o') {
    std::erase_if(subscribers_, [&](const auto& s) { return s.get() == stream; });
  } else if (owner[0] == 'f') {
    if (Framework* framework = findFramework(id)) disconnect(*framework);
  } else if (auto agent = agents_.find(id); agent != agents_.end()) {
    agent->second.stream.reset();  // health is decided by heartbeats
  }
}

void Master::disconnect(Framework& framework) {
  if (framework.stream) {
    streamOwners_.erase(framework.stream.get());
    framework.stream->close();
    framework.stream.reset();
  }
  allocator_.deactivateFramework(framework.id);
  rescindOffers([&](const OfferRecord& r) { return r.allocation.frameworkId == framework.id; },
                false);
  framework.failoverDeadline = clock_.now() + seconds(framework.info.failover_timeout());
  publishFramework(framework, false);
  logging::get("master")->info("framework disconnected framework_id={}", framework.id);
}

void Master::rememberCompleted(const Framework& framework) {
  constexpr size_t kMaxCompletedFrameworks = 50;
  CompletedFramework record{framework.info, {}};
  record.tasks.assign(framework.completedTasks.begin(), framework.completedTasks.end());
  // Tasks still running are killed with the framework (SHUTDOWN_FRAMEWORK).
  for (const auto& [taskId, task] : framework.tasks) {
    record.tasks.push_back(task.task);
    if (!isTerminal(task.task.state())) record.tasks.back().set_state(mesos::v1::TASK_KILLED);
  }
  completedFrameworkRecords_.push_back(std::move(record));
  if (completedFrameworkRecords_.size() > kMaxCompletedFrameworks) completedFrameworkRecords_.pop_front();
}

void Master::removeFramework(const std::string& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  Framework& framework = it->second;
  std::set<std::string> agentsWithTasks;
  for (const auto& [taskId, task] : framework.tasks) agentsWithTasks.insert(task.task.agent_id().value());
  nucleo::agent::Event event;
  event.set_type(nucleo::agent::Event::SHUTDOWN_FRAMEWORK);
  event.mutable_shutdown_framework()->mutable_framework_id()->set_value(id);
  for (const auto& agentId : agentsWithTasks) forwardToAgent(agentId, event);
  offers_.takeIf([&](const OfferRecord& r) { return r.allocation.frameworkId == id; });
  allocator_.removeFramework(id);  // frees offers and tasks alike
  if (framework.stream) {
    streamOwners_.erase(framework.stream.get());
    framework.stream->close();
  }
  completedFrameworks_.insert(id);
  rememberCompleted(framework);
  publishFrameworkRemoved(framework.info);
  frameworks_.erase(it);
  allocationDue_ = true;
  registryDirty_ = true;
}

void Master::sendEvent(Framework& framework, const Event& event) {
  if (!framework.stream) return;
  if (!framework.stream->send(event)) {
    logging::get("master")->warn("framework stream overflow or closed framework_id={}",
                                 framework.id);
    disconnect(framework);
  }
}

void Master::rescindOffers(const std::function<bool(const OfferRecord&)>& pred, bool notify) {
  for (auto& record : offers_.takeIf(pred)) {
    const auto& a = record.allocation;
    allocator_.recoverResources(a.frameworkId, a.role, a.agentId, a.resources);
    ++counters_.offersRescinded;
    Framework* framework = findFramework(a.frameworkId);
    if (!notify || !framework) continue;
    Event event;
    event.set_type(Event::RESCIND);
    event.mutable_rescind()->mutable_offer_id()->set_value(record.id);
    sendEvent(*framework, event);
  }
  allocationDue_ = true;
}

Master::Framework* Master::findFramework(const std::string& id) {
  auto it = frameworks_.find(id);
  return it == frameworks_.end() ? nullptr : &it->second;
}

mesos::v1::MasterInfo Master::masterInfo() const {
  mesos::v1::MasterInfo info;
  info.set_id(id_);
  // Mesos packs the IPv4 address as the in_addr's s_addr (network order).
  in_addr address{};
  info.set_ip(::inet_pton(AF_INET, options_.ip.c_str(), &address) == 1 ? address.s_addr : 0);
  info.set_port(options_.port);
  info.set_hostname(options_.hostname);
  info.set_version(options_.version);
  info.set_pid("master@" + options_.ip + ":" + std::to_string(options_.port));
  info.mutable_address()->set_ip(options_.ip);
  info.mutable_address()->set_hostname(options_.hostname);
  info.mutable_address()->set_port(options_.port);
  return info;
}

void Master::tick() {
  auto now = clock_.now();
  for (auto& record : offers_.takeExpired()) {
    const auto& a = record.allocation;
    allocator_.recoverResources(a.frameworkId, a.role, a.agentId, a.resources);
    ++counters_.offersRescinded;
    allocationDue_ = true;
    if (Framework* framework = findFramework(a.frameworkId)) {
      Event event;
      event.set_type(Event::RESCIND);
      event.mutable_rescind()->mutable_offer_id()->set_value(record.id);
      sendEvent(*framework, event);
    }
  }
  std::vector<std::string> expired;
  for (auto& [id, framework] : frameworks_) {
    if (framework.stream && now - framework.lastHeartbeat >= options_.heartbeatInterval) {
      framework.lastHeartbeat = now;
      Event event;
      event.set_type(Event::HEARTBEAT);
      sendEvent(framework, event);
    }
    if (!framework.stream && framework.failoverDeadline && *framework.failoverDeadline <= now)
      expired.push_back(id);
  }
  for (const auto& id : expired) {
    logging::get("master")->info("framework failover timeout framework_id={}", id);
    removeFramework(id);
  }
  if (!subscribers_.empty() && now - lastSubscriberHeartbeat_ >= options_.heartbeatInterval) {
    lastSubscriberHeartbeat_ = now;
    mesos::v1::master::Event heartbeat;
    heartbeat.set_type(mesos::v1::master::Event::HEARTBEAT);
    publish(heartbeat);
  }
  expireRecoveredAgents();
  if (!drains_.empty()) checkDrains();
  for (auto it = recoveredFrameworks_.begin(); it != recoveredFrameworks_.end();) {
    if (it->second.second > now) {
      ++it;
      continue;
    }
    logging::get("master")->info("recovered framework did not come back framework_id={}", it->first);
    completedFrameworks_.insert(it->first);
    it = recoveredFrameworks_.erase(it);
    registryDirty_ = true;
  }
  auto unreachableAfter = options_.agentPingTimeout * options_.maxAgentPingTimeouts;
  for (auto& [id, agent] : agents_) {
    if (!agent.reachable) continue;
    if (now - agent.lastSeen > unreachableAfter) {
      markUnreachable(agent);
    } else if (agent.stream && now - agent.lastPing >= options_.heartbeatInterval) {
      agent.lastPing = now;
      nucleo::agent::Event ping;
      ping.set_type(nucleo::agent::Event::PING);
      if (!agent.stream->send(ping)) agent.stream.reset();
    }
  }
  if (allocationDue_ || now - lastAllocation_ >= options_.allocationInterval) allocate();
  if (registryDirty_) persist();
}

}  // namespace nucleo::master
