#pragma once
// The agent's test fixture: the Agent state machine against a fake
// containerizer (FakeContainers), fake executor streams (FakeChannel), a fake
// clock and a recording master. Shared by agent_test.cpp and
// agent_executor_test.cpp.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "agent/agent.hpp"
#include "base/fs.hpp"

namespace nucleo::agent::test {

using mesos::v1::TaskState;
using AgentEvent = nucleo::agent::Event;

class FakeContainers : public ContainerBackend {
 public:
  struct C {
    ContainerLaunch launch;
    std::optional<ContainerExit> exit;
    bool destroyed = false;
    std::chrono::milliseconds killGrace{-1};
  };
  Status createPod(const std::string& podId,
                   const std::optional<mesos::v1::ContainerInfo>& network) override {
    pods.push_back(podId);
    podNetwork = network;
    return {};
  }
  Status destroyPod(const std::string&) override { return {}; }
  Result<pid_t> launch(const ContainerLaunch& launch) override {
    if (failLaunch) return Error::make("image 'nope' is not in the store");
    containers[launch.containerId].launch = launch;
    order.push_back(launch.containerId);
    return 4242;
  }
  Result<UniqueFd> exitFd(const std::string&) override { return Error::make("no fd"); }
  Result<std::optional<ContainerExit>> exitOf(const std::string& id) override {
    auto it = containers.find(id);
    if (it == containers.end()) return Error::make("container '{}' unknown", id);
    return it->second.exit;
  }
  Status kill(const std::string& id, std::chrono::milliseconds grace) override {
    containers[id].killGrace = grace;
    return {};
  }
  Status destroy(const std::string& id) override {
    if (containers.count(id)) containers[id].destroyed = true;
    return {};
  }
  Result<std::vector<ContainerInfoOnDisk>> recover() override {
    std::vector<ContainerInfoOnDisk> out;
    for (const auto& [id, c] : containers) {
      if (c.destroyed) continue;
      ContainerInfoOnDisk info;
      info.containerId = id;
      info.phase = c.exit ? ContainerPhase::Exited : ContainerPhase::Running;
      info.exit = c.exit;
      out.push_back(info);
    }
    return out;
  }
  Result<Containers::Usage> usage(const std::string&) override { return Containers::Usage{}; }
  Result<std::vector<std::string>> ipAddresses(const std::string& id) override {
    if (!containers.count(id)) return Error::make("container '{}' unknown", id);
    return ips;
  }

  std::map<std::string, C> containers;
  std::vector<std::string> ips;
  std::optional<mesos::v1::ContainerInfo> podNetwork;
  std::vector<std::string> order;
  std::vector<std::string> pods;
  bool failLaunch = false;
};

class FakeChannel : public ExecutorChannel {
 public:
  bool send(const mesos::v1::executor::Event& event) override {
    events.push_back(event);
    return true;
  }
  void close() override { closed = true; }
  std::vector<mesos::v1::executor::Event> events;
  bool closed = false;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-agent-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.workDir = dir_;
    options_.hostname = "h";
    options_.port = 5999;
  }
  void TearDown() override { (void)fs::removeAll(dir_); }

  std::unique_ptr<Agent> start() {
    AgentDeps deps = agentDeps_;
    deps.containers = &containers_;
    deps.clock = &clock_;
    deps.toMaster = [this](const nucleo::agent::Call& call) { calls_.push_back(call); };
    deps.offload = [](std::function<std::function<void()>()> work) { work()(); };
    deps.fetch = [this](const std::vector<mesos::v1::CommandInfo::URI>& uris,
                        const std::string&) -> Status {
      if (uris[0].value().find("missing") != std::string::npos)
        return Error::make("GET {}: 404 Not Found", uris[0].value());
      ++fetches_;
      return {};
    };
    std::vector<mesos::v1::Resource> resources(2);
    resources[0].set_name("cpus");
    resources[0].set_type(mesos::v1::Value::SCALAR);
    resources[0].mutable_scalar()->set_value(4);
    resources[1].set_name("mem");
    resources[1].set_type(mesos::v1::Value::SCALAR);
    resources[1].mutable_scalar()->set_value(1024);
    auto agent = std::make_unique<Agent>(options_, resources, std::vector<mesos::v1::Attribute>{},
                                         deps);
    EXPECT_TRUE(agent->recover());
    return agent;
  }
  void registerAs(Agent& agent, const std::string& id) {
    AgentEvent::Registered r;
    r.mutable_agent_id()->set_value(id);
    agent.registered(r);
  }
  AgentEvent runTask(const std::string& taskId, const std::string& command, double cpus = 1) {
    AgentEvent e;
    e.set_type(AgentEvent::RUN_TASK);
    auto* fw = e.mutable_run_task()->mutable_framework();
    fw->mutable_id()->set_value("F1");
    fw->set_name("test");
    fw->set_checkpoint(true);
    auto* task = e.mutable_run_task()->mutable_task();
    task->set_name(taskId);
    task->mutable_task_id()->set_value(taskId);
    if (!command.empty()) task->mutable_command()->set_value(command);
    auto* r = task->add_resources();
    r->set_name("cpus");
    r->set_type(mesos::v1::Value::SCALAR);
    r->mutable_scalar()->set_value(cpus);
    return e;
  }
  // Status updates sent to the master, in order.
  std::vector<mesos::v1::TaskStatus> updates() const {
    std::vector<mesos::v1::TaskStatus> out;
    for (const auto& c : calls_)
      if (c.type() == nucleo::agent::Call::STATUS_UPDATE) out.push_back(c.status_update().status());
    return out;
  }
  void ack(Agent& agent, const mesos::v1::TaskStatus& status) {
    AgentEvent e;
    e.set_type(AgentEvent::ACKNOWLEDGE);
    e.mutable_acknowledge()->mutable_framework_id()->set_value("F1");
    *e.mutable_acknowledge()->mutable_task_id() = status.task_id();
    e.mutable_acknowledge()->set_uuid(status.uuid());
    agent.handleEvent(e);
  }
  // Acks every update until none is outstanding; returns the states seen.
  std::vector<TaskState> ackAll(Agent& agent) {
    std::vector<TaskState> states;
    for (size_t i = 0; i < updates().size(); ++i) {
      auto u = updates()[i];
      states.push_back(u.state());
      ack(agent, u);
    }
    return states;
  }

  std::string dir_;
  AgentOptions options_;
  FakeContainers containers_;
  AgentDeps agentDeps_;
  FakeClock clock_;
  std::vector<nucleo::agent::Call> calls_;
  int fetches_ = 0;
};

}  // namespace nucleo::agent::test
