// The operator SUBSCRIBE stream (POST /api/v1, type SUBSCRIBE): SUBSCRIBED
// with the whole state, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED,
// AGENT_REMOVED, FRAMEWORK_ADDED/UPDATED/REMOVED and HEARTBEAT.

#include <chrono>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using OperatorEvent = mesos::v1::master::Event;

Response Master::operatorSubscribe(std::shared_ptr<EventStream> stream) {
  if (subscribers_.size() >= options_.maxOperatorSubscribers)
    return Response{503,
                    fmt::format("Too many operator subscribers: the limit is {}",
                                options_.maxOperatorSubscribers),
                    {}};
  OperatorEvent event;
  event.set_type(OperatorEvent::SUBSCRIBED);
  fillState(event.mutable_subscribed()->mutable_get_state());
  event.mutable_subscribed()->set_heartbeat_interval_seconds(
      std::chrono::duration<double>(options_.heartbeatInterval).count());
  if (!stream->send(event)) return Response{500, "The subscriber's stream is closed", {}};
  streamOwners_[stream.get()] = "o:";
  subscribers_.push_back(std::move(stream));
  if (subscribers_.size() == 1) lastSubscriberHeartbeat_ = clock_.now();
  return Response{200, "", ""};
}

void Master::publish(const OperatorEvent& event) {
  std::erase_if(subscribers_, [&](const std::shared_ptr<EventStream>& stream) {
    if (stream->send(event)) return false;
    logging::get("master")->warn("operator subscriber dropped: stream overflow or closed");
    streamOwners_.erase(stream.get());
    stream->close();
    return true;
  });
}

void Master::publishTaskAdded(const mesos::v1::Task& task) {
  if (subscribers_.empty()) return;
  OperatorEvent event;
  event.set_type(OperatorEvent::TASK_ADDED);
  *event.mutable_task_added()->mutable_task() = task;
  publish(event);
}

void Master::publishTaskUpdated(const std::string& frameworkId,
                                const mesos::v1::TaskStatus& status,
                                mesos::v1::TaskState state) {
  if (subscribers_.empty()) return;
  OperatorEvent event;
  event.set_type(OperatorEvent::TASK_UPDATED);
  auto* updated = event.mutable_task_updated();
  updated->mutable_framework_id()->set_value(frameworkId);
  *updated->mutable_status() = status;
  updated->set_state(state);
  publish(event);
}

void Master::publishAgentAdded(const Agent& agent) {
  if (subscribers_.empty()) return;
  Resources allocated;
  for (const auto& [fid, framework] : frameworks_)
    for (const auto& [tid, task] : framework.tasks)
      if (task.task.agent_id().value() == agent.id && !isTerminal(task.task.state()))
        allocated += task.resources;
  OperatorEvent event;
  event.set_type(OperatorEvent::AGENT_ADDED);
  fillAgent(agent, event.mutable_agent_added()->mutable_agent(), allocated, Resources{});
  publish(event);
}

void Master::publishAgentRemoved(const std::string& agentId) {
  if (subscribers_.empty()) return;
  OperatorEvent event;
  event.set_type(OperatorEvent::AGENT_REMOVED);
  event.mutable_agent_removed()->mutable_agent_id()->set_value(agentId);
  publish(event);
}

void Master::publishFramework(const Framework& framework, bool added) {
  if (subscribers_.empty()) return;
  OperatorEvent event;
  if (added) {
    event.set_type(OperatorEvent::FRAMEWORK_ADDED);
    fillFramework(framework, event.mutable_framework_added()->mutable_framework());
  } else {
    event.set_type(OperatorEvent::FRAMEWORK_UPDATED);
    fillFramework(framework, event.mutable_framework_updated()->mutable_framework());
  }
  publish(event);
}

void Master::publishFrameworkRemoved(const mesos::v1::FrameworkInfo& info) {
  if (subscribers_.empty()) return;
  OperatorEvent event;
  event.set_type(OperatorEvent::FRAMEWORK_REMOVED);
  *event.mutable_framework_removed()->mutable_framework_info() = info;
  publish(event);
}

}  // namespace nucleo::master
