#pragma once
// The fixture of the master's state-machine tests: recording streams, a
// FakeClock, and helpers that subscribe frameworks and register agents.

#include <gtest/gtest.h>

#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master::test_support {

using namespace std::chrono_literals;
using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

template <class E>
class RecordingStream : public EventStream {
 public:
  bool send(const google::protobuf::Message& message) override {
    if (closed_ || events.size() >= limit) return false;
    E event;
    event.CopyFrom(message);
    events.push_back(event);
    return true;
  }
  void close() override { closed_ = true; }
  bool closed() const override { return closed_; }
  std::vector<E> ofType(typename E::Type type) const {
    std::vector<E> out;
    for (const auto& e : events)
      if (e.type() == type) out.push_back(e);
    return out;
  }
  std::vector<E> events;
  size_t limit = 1000;

 private:
  bool closed_ = false;
};
using FrameworkStream = RecordingStream<Event>;
using AgentStream = RecordingStream<nucleo::agent::Event>;

class MasterTest : public ::testing::Test {
 protected:
  explicit MasterTest(MasterOptions o = options(), Registry* registry = nullptr)
      : master(std::move(o), clock, registry) {}
  static MasterOptions options() {
    MasterOptions o;
    o.offerTimeout = 30s;
    o.heartbeatInterval = 5s;
    return o;
  }

  Call subscribeCall(const std::string& id = "") {
    Call call;
    call.set_type(Call::SUBSCRIBE);
    auto* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("root");
    info->set_name("test");
    info->set_failover_timeout(60);
    if (!id.empty()) {
      call.mutable_framework_id()->set_value(id);
      info->mutable_id()->set_value(id);
    }
    return call;
  }

  // Subscribes a framework; returns its id.
  std::string subscribe(std::shared_ptr<FrameworkStream> stream) {
    return subscribe(stream, subscribeCall());
  }
  std::string subscribe(std::shared_ptr<FrameworkStream> stream, const Call& subscribeCall) {
    auto response = master.schedulerCall(subscribeCall, {}, stream);
    EXPECT_EQ(response.status, 200) << response.body;
    streamId = response.streamId;
    EXPECT_EQ(stream->events.at(0).type(), Event::SUBSCRIBED);
    return stream->events.at(0).subscribed().framework_id().value();
  }

  std::string registerAgent(std::shared_ptr<AgentStream> stream,
                            const char* resources = "cpus:4;mem:4096;ports:[31000-32000]") {
    nucleo::agent::Call call;
    call.set_type(nucleo::agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("node1");
    toProto(*Resources::parse(resources), "", info->mutable_resources());
    auto response = master.agentCall(call, {"", "", "127.0.0.2"}, stream);
    EXPECT_EQ(response.status, 200) << response.body;
    agentStreamId = response.streamId;
    return stream->events.at(0).registered().agent_id().value();
  }

  Response call(Call c, const std::string& frameworkId) {
    c.mutable_framework_id()->set_value(frameworkId);
    return master.schedulerCall(c, {streamId, "", ""}, nullptr);
  }

  Call launchCall(const std::string& offerId, const std::string& agentId,
                  const std::string& taskId, const char* resources = "cpus:1;mem:128") {
    Call c;
    c.set_type(Call::ACCEPT);
    c.mutable_accept()->add_offer_ids()->set_value(offerId);
    auto* op = c.mutable_accept()->add_operations();
    op->set_type(mesos::v1::Offer::Operation::LAUNCH);
    auto* task = op->mutable_launch()->add_task_infos();
    task->set_name("t");
    task->mutable_task_id()->set_value(taskId);
    task->mutable_agent_id()->set_value(agentId);
    task->mutable_command()->set_value("sleep 10");
    toProto(*Resources::parse(resources), "", task->mutable_resources());
    return c;
  }

  Response statusUpdate(const std::string& agentId, const std::string& frameworkId,
                        const std::string& taskId, mesos::v1::TaskState state,
                        const std::string& uuid) {
    nucleo::agent::Call c;
    c.set_type(nucleo::agent::Call::STATUS_UPDATE);
    c.mutable_agent_id()->set_value(agentId);
    c.mutable_status_update()->mutable_framework_id()->set_value(frameworkId);
    auto* s = c.mutable_status_update()->mutable_status();
    s->mutable_task_id()->set_value(taskId);
    s->set_state(state);
    s->set_uuid(uuid);
    s->set_source(mesos::v1::TaskStatus::SOURCE_EXECUTOR);
    return master.agentCall(c, {agentStreamId, "", ""}, nullptr);
  }

  FakeClock clock;
  Master master;
  std::string streamId;
  std::string agentStreamId;
};

}  // namespace nucleo::master::test_support
