// Custom executors against the fake containerizer: task groups sent to them
// as LAUNCH_GROUP, the re-registration timeout after an agent restart, and
// frameworks without checkpointing, which a restart does not recover.

#include "agent/tests/agent_test_fixture.hpp"

namespace nucleo::agent {
namespace {

using namespace nucleo::agent::test;
using ExecutorEvent = mesos::v1::executor::Event;
using ExecutorCall = mesos::v1::executor::Call;

class AgentExecutorTest : public AgentTest {
 protected:
  // A LAUNCH_GROUP for the custom executor "E1" (or, with `custom` false, a
  // DEFAULT executor) of tasks `ids`, each with a command and 0.5 cpus.
  AgentEvent group(std::vector<std::string> ids, bool custom = true) {
    AgentEvent e;
    e.set_type(AgentEvent::RUN_TASK_GROUP);
    auto* g = e.mutable_run_task_group();
    g->mutable_framework()->mutable_id()->set_value("F1");
    g->mutable_framework()->set_checkpoint(true);
    auto* executor = g->mutable_executor();
    executor->mutable_executor_id()->set_value("E1");
    executor->set_type(custom ? mesos::v1::ExecutorInfo::CUSTOM : mesos::v1::ExecutorInfo::DEFAULT);
    if (custom) executor->mutable_command()->set_value("./my-executor");
    for (const auto& id : ids) {
      auto* t = g->mutable_task_group()->add_tasks();
      t->set_name(id);
      t->mutable_task_id()->set_value(id);
      t->mutable_command()->set_value("run " + id);
      auto* r = t->add_resources();
      r->set_name("cpus");
      r->set_type(mesos::v1::Value::SCALAR);
      r->mutable_scalar()->set_value(0.5);
    }
    return e;
  }
  // A plain LAUNCH of task `id` to the custom executor "E1".
  AgentEvent launch(const std::string& id) {
    auto run = runTask(id, "");
    auto* ex = run.mutable_run_task()->mutable_task()->mutable_executor();
    ex->mutable_executor_id()->set_value("E1");
    ex->mutable_command()->set_value("./my-executor");
    return run;
  }
  ApiAnswer subscribe(Agent& agent, const std::shared_ptr<FakeChannel>& channel,
                      std::vector<std::string> unacknowledgedTasks = {}) {
    ExecutorCall sub;
    sub.set_type(ExecutorCall::SUBSCRIBE);
    sub.mutable_framework_id()->set_value("F1");
    sub.mutable_executor_id()->set_value("E1");
    sub.mutable_subscribe();
    for (const auto& id : unacknowledgedTasks)
      sub.mutable_subscribe()->add_unacknowledged_tasks()->mutable_task_id()->set_value(id);
    return agent.executorSubscribe(sub, channel);
  }
  ApiAnswer executorUpdate(Agent& agent, const std::string& taskId, mesos::v1::TaskState state) {
    ExecutorCall update;
    update.set_type(ExecutorCall::UPDATE);
    update.mutable_framework_id()->set_value("F1");
    update.mutable_executor_id()->set_value("E1");
    auto* status = update.mutable_update()->mutable_status();
    status->mutable_task_id()->set_value(taskId);
    status->set_state(state);
    status->set_uuid(randomUuid());
    return agent.executorCall(update);
  }
  static std::vector<std::string> taskIds(const ExecutorEvent& event) {
    std::vector<std::string> ids;
    for (const auto& t : event.launch_group().task_group().tasks()) ids.push_back(t.task_id().value());
    return ids;
  }
  using Ids = std::vector<std::string>;
};

TEST_F(AgentExecutorTest, TaskGroupsGoToTheCustomExecutorAsLaunchGroup) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(group({"a", "b"}));
  agent->handleEvent(group({"c"}));  // queued too: the executor has not subscribed
  agent->handleEvent(launch("l"));
  // One executor container, no pod; the tasks' resources are the executor's.
  ASSERT_EQ(containers_.order.size(), 1u);
  EXPECT_TRUE(containers_.pods.empty());
  const auto& launched = containers_.containers[containers_.order[0]].launch;
  EXPECT_EQ(launched.command.value(), "./my-executor");
  EXPECT_EQ(launched.environment.at("MESOS_EXECUTOR_ID"), "E1");
  EXPECT_FALSE(launched.podId);
  ASSERT_EQ(launched.resources.size(), 1u);
  EXPECT_DOUBLE_EQ(launched.resources[0].scalar().value(), 1.0);  // a and b; c came later
  EXPECT_TRUE(updates().empty());

  auto channel = std::make_shared<FakeChannel>();
  ASSERT_EQ(subscribe(*agent, channel).status, 200);
  ASSERT_EQ(channel->events.size(), 4u);
  EXPECT_EQ(channel->events[0].type(), ExecutorEvent::SUBSCRIBED);
  ASSERT_EQ(channel->events[1].type(), ExecutorEvent::LAUNCH_GROUP);
  EXPECT_EQ(taskIds(channel->events[1]), (Ids{"a", "b"}));
  EXPECT_EQ(channel->events[1].launch_group().task_group().tasks(0).command().value(), "run a");
  ASSERT_EQ(channel->events[2].type(), ExecutorEvent::LAUNCH_GROUP);
  EXPECT_EQ(taskIds(channel->events[2]), (Ids{"c"}));
  ASSERT_EQ(channel->events[3].type(), ExecutorEvent::LAUNCH);
  EXPECT_EQ(channel->events[3].launch().task().task_id().value(), "l");

  // A further group goes straight to the same running executor.
  agent->handleEvent(group({"d", "e"}));
  EXPECT_EQ(containers_.order.size(), 1u);
  ASSERT_EQ(channel->events.size(), 5u);
  ASSERT_EQ(channel->events[4].type(), ExecutorEvent::LAUNCH_GROUP);
  EXPECT_EQ(taskIds(channel->events[4]), (Ids{"d", "e"}));

  // Statuses are the executor's.
  EXPECT_EQ(executorUpdate(*agent, "a", mesos::v1::TASK_RUNNING).status, 202);
  EXPECT_EQ(executorUpdate(*agent, "b", mesos::v1::TASK_FINISHED).status, 202);
  ASSERT_EQ(updates().size(), 2u);
  EXPECT_EQ(updates()[0].task_id().value(), "a");
  EXPECT_EQ(updates()[1].task_id().value(), "b");
  EXPECT_EQ(updates()[1].state(), mesos::v1::TASK_FINISHED);
  EXPECT_EQ(updates()[1].source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
}

TEST_F(AgentExecutorTest, DefaultExecutorGroupIsStillAPod) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(group({"a", "b"}, false));
  EXPECT_EQ(containers_.pods.size(), 1u);
  EXPECT_EQ(containers_.order.size(), 2u);  // one container per task
}

TEST_F(AgentExecutorTest, GroupForAPodExecutorIdIsRejected) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(group({"a"}, false));
  agent->handleEvent(group({"b"}));  // same executor id, but now a custom one
  auto all = updates();
  auto b = std::find_if(all.begin(), all.end(),
                        [](const auto& u) { return u.task_id().value() == "b"; });
  ASSERT_NE(b, all.end());
  EXPECT_EQ(b->state(), mesos::v1::TASK_ERROR);
  EXPECT_EQ(b->reason(), mesos::v1::TaskStatus::REASON_TASK_GROUP_INVALID);
}

TEST_F(AgentExecutorTest, UndeliveredGroupIsDeliveredWholeAfterAnAgentRestart) {
  {
    auto agent = start();
    registerAs(*agent, "A1");
    agent->handleEvent(group({"a", "b"}));
  }
  auto agent = start();
  registerAs(*agent, "A1");
  auto channel = std::make_shared<FakeChannel>();
  ASSERT_EQ(subscribe(*agent, channel).status, 200);
  ASSERT_EQ(channel->events.size(), 2u);
  ASSERT_EQ(channel->events[1].type(), ExecutorEvent::LAUNCH_GROUP);
  EXPECT_EQ(taskIds(channel->events[1]), (Ids{"a", "b"}));
  // The agent's bookkeeping label is not the executor's business.
  EXPECT_EQ(channel->events[1].launch_group().task_group().tasks(0).labels().labels_size(), 0);
}

TEST_F(AgentExecutorTest, RecoveredExecutorThatDoesNotResubscribeIsKilled) {
  {
    auto agent = start();
    registerAs(*agent, "A1");
    agent->handleEvent(group({"a", "b"}));
    auto channel = std::make_shared<FakeChannel>();
    ASSERT_EQ(subscribe(*agent, channel).status, 200);
    EXPECT_EQ(executorUpdate(*agent, "a", mesos::v1::TASK_RUNNING).status, 202);
    EXPECT_EQ(executorUpdate(*agent, "b", mesos::v1::TASK_RUNNING).status, 202);
    ackAll(*agent);
  }
  calls_.clear();
  auto agent = start();  // the executor's container is still running
  registerAs(*agent, "A1");
  std::string executor = containers_.order[0];
  // Not the 1 min registration timeout: Mesos's 2 s re-registration timeout.
  clock_.advance(std::chrono::milliseconds(1900));
  agent->tick();
  EXPECT_TRUE(updates().empty());
  EXPECT_EQ(containers_.containers[executor].killGrace, std::chrono::milliseconds(-1));
  clock_.advance(std::chrono::milliseconds(200));
  agent->tick();
  EXPECT_EQ(containers_.containers[executor].killGrace, std::chrono::milliseconds(0));
  auto all = updates();
  ASSERT_EQ(all.size(), 2u);
  for (const auto& u : all) {
    EXPECT_EQ(u.state(), mesos::v1::TASK_FAILED);
    EXPECT_EQ(u.reason(), mesos::v1::TaskStatus::REASON_EXECUTOR_REREGISTRATION_TIMEOUT);
  }
  // Its exit adds no second terminal update.
  containers_.containers[executor].exit = ContainerExit{SIGKILL, false, true, ""};
  agent->containerExited(executor);
  EXPECT_EQ(updates().size(), 2u);
}

TEST_F(AgentExecutorTest, RecoveredExecutorThatResubscribesInTimeKeepsRunning) {
  options_.executorReregistrationTimeout = std::chrono::milliseconds(500);
  {
    auto agent = start();
    registerAs(*agent, "A1");
    agent->handleEvent(launch("t"));
    auto channel = std::make_shared<FakeChannel>();
    ASSERT_EQ(subscribe(*agent, channel).status, 200);
    EXPECT_EQ(executorUpdate(*agent, "t", mesos::v1::TASK_RUNNING).status, 202);
    ackAll(*agent);
  }
  calls_.clear();
  auto agent = start();
  registerAs(*agent, "A1");
  clock_.advance(std::chrono::milliseconds(400));
  agent->tick();
  auto channel = std::make_shared<FakeChannel>();
  ASSERT_EQ(subscribe(*agent, channel, {"t"}).status, 200);
  EXPECT_EQ(channel->events.size(), 1u);  // SUBSCRIBED; "t" it already has
  // A later drop of the stream is not a missed re-registration.
  agent->executorDisconnected(channel.get());
  clock_.advance(std::chrono::minutes(2));
  agent->tick();
  EXPECT_TRUE(updates().empty());
  EXPECT_EQ(containers_.containers[containers_.order[0]].killGrace, std::chrono::milliseconds(-1));
}

TEST_F(AgentExecutorTest, FrameworkWithoutCheckpointingIsNotRecovered) {
  std::string command, executor;
  {
    auto agent = start();
    registerAs(*agent, "A1");
    auto task = runTask("cmd", "sleep 100");
    task.mutable_run_task()->mutable_framework()->set_checkpoint(false);
    agent->handleEvent(task);
    auto custom = launch("via-executor");
    custom.mutable_run_task()->mutable_framework()->set_checkpoint(false);
    agent->handleEvent(custom);
    auto channel = std::make_shared<FakeChannel>();
    ASSERT_EQ(subscribe(*agent, channel).status, 200);
    EXPECT_EQ(executorUpdate(*agent, "via-executor", mesos::v1::TASK_RUNNING).status, 202);
    ackAll(*agent);
    ackAll(*agent);
    ASSERT_EQ(containers_.order.size(), 2u);
    command = containers_.order[0];
    executor = containers_.order[1];
  }
  calls_.clear();
  auto agent = start();
  // Both containers were still running: destroyed, not reattached to.
  EXPECT_TRUE(containers_.containers[command].destroyed);
  EXPECT_TRUE(containers_.containers[executor].destroyed);
  registerAs(*agent, "A1");
  std::map<std::string, mesos::v1::TaskStatus> last;
  for (const auto& u : updates()) last[u.task_id().value()] = u;
  ASSERT_EQ(last.size(), 2u);
  for (const auto& [id, u] : last) {
    EXPECT_EQ(u.state(), mesos::v1::TASK_LOST) << id;
    EXPECT_EQ(u.reason(), mesos::v1::TaskStatus::REASON_AGENT_RESTARTED) << id;
    EXPECT_EQ(u.source(), mesos::v1::TaskStatus::SOURCE_AGENT) << id;
    EXPECT_EQ(u.uuid().size(), 16u) << id;  // resent until acknowledged
  }
  ackAll(*agent);
  EXPECT_EQ(agent->pendingUpdates(), 0u);
  // No late subscription revives the executor.
  auto channel = std::make_shared<FakeChannel>();
  EXPECT_NE(subscribe(*agent, channel).status, 200);
  // A further restart has nothing left of it.
  calls_.clear();
  auto third = start();
  registerAs(*third, "A1");
  EXPECT_TRUE(updates().empty());
  EXPECT_EQ(third->registerCall().register_().tasks_size(), 0);
}

TEST_F(AgentExecutorTest, ReregistrationTimeoutFlag) {
  auto parse = [](std::vector<const char*> args) {
    args.insert(args.begin(), "nucleo-agent");
    return parseFlags(static_cast<int>(args.size()), args.data());
  };
  auto defaults = parse({});
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->executorReregistrationTimeout, std::chrono::seconds(2));
  auto underscore = parse({"--executor_reregistration_timeout", "500ms"});
  ASSERT_TRUE(underscore) << underscore.error().message;
  EXPECT_EQ(underscore->executorReregistrationTimeout, std::chrono::milliseconds(500));
  auto dashed = parse({"--executor-reregistration-timeout=3secs"});
  ASSERT_TRUE(dashed) << dashed.error().message;
  EXPECT_EQ(dashed->executorReregistrationTimeout, std::chrono::seconds(3));
  auto tooLong = parse({"--executor-reregistration-timeout", "16secs"});
  ASSERT_FALSE(tooLong);
  EXPECT_NE(tooLong.error().message.find("--executor-reregistration-timeout"), std::string::npos)
      << tooLong.error().message;
}

}  // namespace
}  // namespace nucleo::agent
