// The agent's state machine against a fake containerizer and a recording
// master: no containers, no HTTP.

#include "agent/tests/agent_test_fixture.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

using namespace nucleo::agent::test;
using mesos::v1::TaskState;
using AgentEvent = nucleo::agent::Event;

TEST_F(AgentTest, CommandTaskRunsAndReportsItsExitCode) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "exit 3"));
  ASSERT_EQ(containers_.order.size(), 1u);
  std::string cid = containers_.order[0];
  const auto& launch = containers_.containers[cid].launch;
  EXPECT_EQ(launch.command.value(), "exit 3");
  EXPECT_EQ(launch.environment.at("MESOS_TASK_ID"), "t1");
  EXPECT_EQ(launch.sandbox,
            dir_ + "/slaves/A1/frameworks/F1/executors/t1/runs/" + cid);
  EXPECT_TRUE(fs::exists(dir_ + "/slaves/A1/frameworks/F1/executors/t1/runs/latest"));
  ASSERT_EQ(updates().size(), 1u);  // RUNNING waits for STARTING's ack
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_STARTING);
  EXPECT_EQ(updates()[0].uuid().size(), 16u);
  ack(*agent, updates()[0]);
  ASSERT_EQ(updates().size(), 2u);
  EXPECT_EQ(updates()[1].state(), mesos::v1::TASK_RUNNING);
  ack(*agent, updates()[1]);

  containers_.containers[cid].exit = ContainerExit{3 << 8, false, false, ""};
  agent->containerExited(cid);
  ASSERT_EQ(updates().size(), 3u);
  EXPECT_EQ(updates()[2].state(), mesos::v1::TASK_FAILED);
  EXPECT_EQ(updates()[2].message(), "Command exited with status 3");
  EXPECT_TRUE(containers_.containers[cid].destroyed);
  EXPECT_EQ(agent->pendingUpdates(), 1u);
  ack(*agent, updates()[2]);
  EXPECT_EQ(agent->pendingUpdates(), 0u);
  EXPECT_TRUE(fs::exists(dir_ + "/meta/slaves/A1/frameworks/F1/executors/t1/runs/" + cid +
                         "/completed"));
}

TEST_F(AgentTest, ZeroExitIsFinishedAndUpdatesAreResent) {
  options_.statusUpdateRetryMin = std::chrono::seconds(1);
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "true"));
  std::string cid = containers_.order[0];
  clock_.advance(std::chrono::milliseconds(1100));
  agent->tick();
  ASSERT_EQ(updates().size(), 2u);
  EXPECT_EQ(updates()[1].uuid(), updates()[0].uuid());  // the same STARTING again
  containers_.containers[cid].exit = ContainerExit{0, false, false, ""};
  agent->containerExited(cid);
  auto states = ackAll(*agent);
  EXPECT_EQ(states.back(), mesos::v1::TASK_FINISHED);
  EXPECT_EQ(agent->pendingUpdates(), 0u);
}

TEST_F(AgentTest, KillUsesTheGracePeriodAndEndsKilled) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto run = runTask("t1", "sleep 100");
  run.mutable_run_task()->mutable_task()->mutable_kill_policy()->mutable_grace_period()
      ->set_nanoseconds(2'000'000'000);
  agent->handleEvent(run);
  ackAll(*agent);
  AgentEvent kill;
  kill.set_type(AgentEvent::KILL_TASK);
  kill.mutable_kill_task()->mutable_framework_id()->set_value("F1");
  kill.mutable_kill_task()->mutable_task_id()->set_value("t1");
  agent->handleEvent(kill);
  std::string cid = containers_.order[0];
  EXPECT_EQ(containers_.containers[cid].killGrace, std::chrono::seconds(2));
  ASSERT_EQ(updates().back().state(), mesos::v1::TASK_KILLING);
  ack(*agent, updates().back());
  containers_.containers[cid].exit = ContainerExit{SIGTERM, false, true, ""};
  agent->containerExited(cid);
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_KILLED);
  EXPECT_EQ(updates().back().message(), "Command terminated with signal Terminated");
}

TEST_F(AgentTest, OomIsAMemoryLimitation) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "eat"));
  ackAll(*agent);
  std::string cid = containers_.order[0];
  containers_.containers[cid].exit = ContainerExit{SIGKILL, true, false, ""};
  agent->containerExited(cid);
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_FAILED);
  EXPECT_EQ(updates().back().reason(), mesos::v1::TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY);
}

TEST_F(AgentTest, InvalidTasksAreAnswered) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto empty = runTask("t1", "x");
  empty.mutable_run_task()->mutable_task()->mutable_command()->clear_value();
  agent->handleEvent(empty);  // no command
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_ERROR);
  EXPECT_NE(updates()[0].message().find("no command"), std::string::npos);
  agent->handleEvent(runTask("t2", "true", 64));  // more cpus than the agent has
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_ERROR);
  EXPECT_NE(updates().back().message().find("cpus"), std::string::npos);
  agent->handleEvent(runTask("../x", "true"));
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_ERROR);
  containers_.failLaunch = true;
  agent->handleEvent(runTask("t3", "true"));
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_FAILED);
  EXPECT_EQ(updates().back().reason(), mesos::v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_NE(updates().back().message().find("image 'nope'"), std::string::npos);
  EXPECT_TRUE(containers_.order.empty());
}

TEST_F(AgentTest, BridgedTaskReportsItsAddressAndHostPortsMustBeItsPorts) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto bad = runTask("t-bad", "true");
  auto* net = bad.mutable_run_task()->mutable_task()->mutable_container();
  net->set_type(mesos::v1::ContainerInfo::MESOS);
  auto* pm = net->add_network_infos();
  pm->set_name("bridge");
  pm->add_port_mappings()->set_host_port(31005);
  pm->mutable_port_mappings(0)->set_container_port(80);
  agent->handleEvent(bad);
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_ERROR);
  EXPECT_NE(updates()[0].message().find("host_port 31005"), std::string::npos) << updates()[0].message();
  EXPECT_TRUE(containers_.order.empty());

  auto good = bad;
  good.mutable_run_task()->mutable_task()->mutable_task_id()->set_value("t-net");
  auto* ports = good.mutable_run_task()->mutable_task()->add_resources();
  ports->set_name("ports");
  ports->set_type(mesos::v1::Value::RANGES);
  auto* range = ports->mutable_ranges()->add_range();
  range->set_begin(31000);
  range->set_end(31009);
  containers_.ips = {"10.88.0.7"};
  agent->handleEvent(good);
  ASSERT_EQ(containers_.order.size(), 1u);
  EXPECT_EQ(containers_.containers[containers_.order[0]].launch.container->network_infos(0).name(), "bridge");
  ackAll(*agent);
  ASSERT_EQ(updates().back().state(), mesos::v1::TASK_RUNNING);
  const auto cs = updates().back().container_status();
  ASSERT_EQ(cs.network_infos_size(), 1);
  ASSERT_EQ(cs.network_infos(0).ip_addresses_size(), 1);
  EXPECT_EQ(cs.network_infos(0).ip_addresses(0).ip_address(), "10.88.0.7");
  EXPECT_EQ(cs.network_infos(0).ip_addresses(0).protocol(), mesos::v1::NetworkInfo::IPv4);
  EXPECT_EQ(updates()[updates().size() - 2].container_status().network_infos_size(), 0) << "not on STARTING";
  mesos::v1::agent::Call call;
  call.set_type(mesos::v1::agent::Call::GET_CONTAINERS);
  auto containers = agent->operatorCall(call).response->get_containers();
  ASSERT_EQ(containers.containers_size(), 1);
  EXPECT_EQ(containers.containers(0).container_status().network_infos(0).ip_addresses(0).ip_address(),
            "10.88.0.7");
  call.set_type(mesos::v1::agent::Call::GET_TASKS);
  auto tasks = agent->operatorCall(call).response->get_tasks();
  ASSERT_EQ(tasks.launched_tasks_size(), 1);
  EXPECT_EQ(tasks.launched_tasks(0).statuses(0).container_status().network_infos(0).ip_addresses(0)
                .ip_address(), "10.88.0.7");
}

TEST_F(AgentTest, FailedFetchFailsTheTask) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto run = runTask("t1", "./app");
  run.mutable_run_task()->mutable_task()->mutable_command()->add_uris()->set_value(
      "http://127.0.0.1:1/missing.tar.gz");
  agent->handleEvent(run);
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_FAILED);
  EXPECT_NE(updates()[0].message().find("Failed to fetch URIs: GET"), std::string::npos);
  EXPECT_TRUE(containers_.order.empty());
}

TEST_F(AgentTest, RestartRecoversRunningTaskAndItsExitWhileDown) {
  std::string cid;
  {
    auto agent = start();
    registerAs(*agent, "A1");
    agent->handleEvent(runTask("t1", "sleep 1"));
    ackAll(*agent);
    cid = containers_.order[0];
  }
  // The agent dies; the task exits 7 while it is down.
  containers_.containers[cid].exit = ContainerExit{7 << 8, false, false, ""};
  containers_.containers["stray"] = {};
  calls_.clear();
  auto agent = start();
  EXPECT_TRUE(containers_.containers["stray"].destroyed);  // unknown to the checkpoint
  auto reg = agent->registerCall();
  EXPECT_EQ(reg.register_().agent_info().id().value(), "A1");
  ASSERT_EQ(reg.register_().tasks_size(), 1u);
  EXPECT_EQ(reg.register_().tasks(0).state(), mesos::v1::TASK_RUNNING);  // what the master knows
  EXPECT_TRUE(updates().empty());  // nothing sent before registration
  registerAs(*agent, "A1");
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_FAILED);
  EXPECT_EQ(updates()[0].message(), "Command exited with status 7");
  ack(*agent, updates()[0]);
  EXPECT_EQ(agent->pendingUpdates(), 0u);
  // A third start knows the task is done and sends nothing.
  calls_.clear();
  auto third = start();
  registerAs(*third, "A1");
  EXPECT_TRUE(updates().empty());
  EXPECT_EQ(third->registerCall().register_().tasks_size(), 0);
}

TEST_F(AgentTest, RestartReattachesToARunningTask) {
  std::string cid;
  {
    auto agent = start();
    registerAs(*agent, "A1");
    agent->handleEvent(runTask("t1", "sleep 100"));
    ackAll(*agent);
    cid = containers_.order[0];
  }
  calls_.clear();
  auto agent = start();
  registerAs(*agent, "A1");
  EXPECT_TRUE(updates().empty());
  EXPECT_FALSE(containers_.containers[cid].destroyed);
  containers_.containers[cid].exit = ContainerExit{0, false, false, ""};
  clock_.advance(std::chrono::seconds(1));
  agent->tick();  // no watcher: the poll finds the exit
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_FINISHED);
}

TEST_F(AgentTest, CustomExecutorSubscribesGetsTasksAndForwardsUpdates) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto run = runTask("t1", "");
  auto* ex = run.mutable_run_task()->mutable_task()->mutable_executor();
  ex->mutable_executor_id()->set_value("E1");
  ex->mutable_command()->set_value("./my-executor");
  agent->handleEvent(run);
  ASSERT_EQ(containers_.order.size(), 1u);
  const auto& env = containers_.containers[containers_.order[0]].launch.environment;
  EXPECT_EQ(env.at("MESOS_AGENT_ENDPOINT"), "127.0.0.1:5999");
  EXPECT_EQ(env.at("MESOS_EXECUTOR_ID"), "E1");
  EXPECT_EQ(env.at("MESOS_CHECKPOINT"), "1");
  EXPECT_TRUE(updates().empty());

  auto channel = std::make_shared<FakeChannel>();
  mesos::v1::executor::Call sub;
  sub.set_type(mesos::v1::executor::Call::SUBSCRIBE);
  sub.mutable_framework_id()->set_value("F1");
  sub.mutable_executor_id()->set_value("E1");
  sub.mutable_subscribe();
  EXPECT_EQ(agent->executorSubscribe(sub, channel).status, 200);
  ASSERT_EQ(channel->events.size(), 2u);
  EXPECT_EQ(channel->events[0].type(), mesos::v1::executor::Event::SUBSCRIBED);
  EXPECT_EQ(channel->events[0].subscribed().agent_info().id().value(), "A1");
  EXPECT_EQ(channel->events[1].type(), mesos::v1::executor::Event::LAUNCH);
  EXPECT_EQ(channel->events[1].launch().task().task_id().value(), "t1");

  mesos::v1::executor::Call update;
  update.set_type(mesos::v1::executor::Call::UPDATE);
  *update.mutable_framework_id() = sub.framework_id();
  *update.mutable_executor_id() = sub.executor_id();
  auto* status = update.mutable_update()->mutable_status();
  status->mutable_task_id()->set_value("t1");
  status->set_state(mesos::v1::TASK_RUNNING);
  std::string uuid = randomUuid();
  status->set_uuid(uuid);
  EXPECT_EQ(agent->executorCall(update).status, 202);
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].uuid(), uuid);
  EXPECT_EQ(updates()[0].source(), mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  ack(*agent, updates()[0]);
  ASSERT_EQ(channel->events.size(), 3u);
  EXPECT_EQ(channel->events[2].type(), mesos::v1::executor::Event::ACKNOWLEDGED);
  EXPECT_EQ(channel->events[2].acknowledged().uuid(), uuid);

  status->set_uuid("short");
  EXPECT_EQ(agent->executorCall(update).status, 400);
  sub.mutable_executor_id()->set_value("nope");
  EXPECT_EQ(agent->executorSubscribe(sub, channel).status, 400);

  // The executor dies: its running task fails.
  containers_.containers[containers_.order[0]].exit = ContainerExit{1 << 8, false, false, ""};
  agent->containerExited(containers_.order[0]);
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_FAILED);
  EXPECT_EQ(updates().back().reason(), mesos::v1::TaskStatus::REASON_EXECUTOR_TERMINATED);
  EXPECT_TRUE(channel->closed);
}

TEST_F(AgentTest, ExecutorThatNeverSubscribesTimesOut) {
  options_.executorRegistrationTimeout = std::chrono::seconds(5);
  auto agent = start();
  registerAs(*agent, "A1");
  auto run = runTask("t1", "");
  run.mutable_run_task()->mutable_task()->mutable_executor()->mutable_executor_id()->set_value("E");
  run.mutable_run_task()->mutable_task()->mutable_executor()->mutable_command()->set_value("x");
  agent->handleEvent(run);
  clock_.advance(std::chrono::seconds(6));
  agent->tick();
  ASSERT_EQ(updates().size(), 1u);
  EXPECT_EQ(updates()[0].reason(), mesos::v1::TaskStatus::REASON_EXECUTOR_REGISTRATION_TIMEOUT);
  EXPECT_EQ(containers_.containers[containers_.order[0]].killGrace, std::chrono::milliseconds(0));
}

TEST_F(AgentTest, TaskGroupRunsAsAPod) {
  auto agent = start();
  registerAs(*agent, "A1");
  AgentEvent e;
  e.set_type(AgentEvent::RUN_TASK_GROUP);
  auto* g = e.mutable_run_task_group();
  g->mutable_framework()->mutable_id()->set_value("F1");
  g->mutable_executor()->mutable_executor_id()->set_value("default");
  g->mutable_executor()->set_type(mesos::v1::ExecutorInfo::DEFAULT);
  for (const char* id : {"a", "b"}) {
    auto* t = g->mutable_task_group()->add_tasks();
    t->mutable_task_id()->set_value(id);
    t->mutable_command()->set_value("sleep 10");
  }
  // The first task's network_infos choose the pod's network.
  auto* net = g->mutable_task_group()->mutable_tasks(0)->mutable_container();
  net->set_type(mesos::v1::ContainerInfo::MESOS);
  net->add_network_infos()->set_name("bridge");
  agent->handleEvent(e);
  ASSERT_EQ(containers_.pods.size(), 1u);
  ASSERT_TRUE(containers_.podNetwork);
  EXPECT_EQ(containers_.podNetwork->network_infos(0).name(), "bridge");
  ASSERT_EQ(containers_.order.size(), 2u);
  for (const auto& cid : containers_.order) {
    EXPECT_EQ(containers_.containers[cid].launch.podId, containers_.pods[0]);
    EXPECT_EQ(cid.rfind(containers_.pods[0] + ".", 0), 0u);
  }
  ackAll(*agent);
  ackAll(*agent);
  // One fails: the other is killed, as Mesos's default executor does.
  std::string a = groupContainerId(containers_.pods[0], "a");
  std::string b = groupContainerId(containers_.pods[0], "b");
  containers_.containers[a].exit = ContainerExit{2 << 8, false, false, ""};
  agent->containerExited(a);
  EXPECT_GE(containers_.containers[b].killGrace.count(), 0);
  containers_.containers[b].exit = ContainerExit{SIGTERM, false, true, ""};
  agent->containerExited(b);
  std::map<std::string, TaskState> final;
  for (const auto& u : updates()) final[u.task_id().value()] = u.state();
  EXPECT_EQ(final["a"], mesos::v1::TASK_FAILED);
  EXPECT_EQ(final["b"], mesos::v1::TASK_KILLED);
}

TEST_F(AgentTest, TaskGroupWithADuplicateIdIsRejectedWhole) {
  auto agent = start();
  registerAs(*agent, "A1");
  AgentEvent e;
  e.set_type(AgentEvent::RUN_TASK_GROUP);
  auto* g = e.mutable_run_task_group();
  g->mutable_framework()->mutable_id()->set_value("F1");
  g->mutable_executor()->mutable_executor_id()->set_value("default");
  for (int i = 0; i < 2; ++i) {
    auto* t = g->mutable_task_group()->add_tasks();
    t->mutable_task_id()->set_value("same");
    t->mutable_command()->set_value("true");
  }
  agent->handleEvent(e);
  EXPECT_TRUE(containers_.order.empty());
  ASSERT_FALSE(updates().empty());
  EXPECT_EQ(updates()[0].state(), mesos::v1::TASK_ERROR);
  EXPECT_EQ(updates()[0].reason(), mesos::v1::TaskStatus::REASON_TASK_GROUP_INVALID);
}

TEST_F(AgentTest, HealthChecksReportAndKill) {
  auto agent = start();
  registerAs(*agent, "A1");
  auto run = runTask("t1", "serve");
  auto* check = run.mutable_run_task()->mutable_task()->mutable_health_check();
  check->set_type(mesos::v1::HealthCheck::COMMAND);
  check->mutable_command()->set_value("probe");
  check->set_delay_seconds(1);
  check->set_interval_seconds(1);
  check->set_grace_period_seconds(0);
  check->set_consecutive_failures(2);
  bool healthy = true;
  int probes = 0;
  // Probes answered by the test, not by a process.
  agentDeps_.healthCommand = [&](const mesos::v1::CommandInfo& c, std::chrono::milliseconds)
      -> Result<int> {
    EXPECT_EQ(c.value(), "probe");
    ++probes;
    return healthy ? 0 : 1;
  };
  agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(run);
  ackAll(*agent);
  clock_.advance(std::chrono::milliseconds(1100));
  agent->tick();
  EXPECT_EQ(probes, 1);
  ASSERT_TRUE(updates().back().has_healthy());
  EXPECT_TRUE(updates().back().healthy());
  EXPECT_EQ(updates().back().reason(),
            mesos::v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  ack(*agent, updates().back());
  healthy = false;
  for (int i = 0; i < 2; ++i) {
    clock_.advance(std::chrono::milliseconds(1100));
    agent->tick();
    ackAll(*agent);
  }
  bool sawUnhealthy = false;
  for (const auto& u : updates()) sawUnhealthy |= u.has_healthy() && !u.healthy();
  EXPECT_TRUE(sawUnhealthy);
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_KILLING);  // 2 failures: killed
  std::string cid = containers_.order.back();
  EXPECT_GE(containers_.containers[cid].killGrace.count(), 0);
  auto invalid = runTask("t2", "x");
  invalid.mutable_run_task()->mutable_task()->mutable_health_check()->set_type(
      mesos::v1::HealthCheck::HTTP);  // no http info
  agent->handleEvent(invalid);
  EXPECT_EQ(updates().back().state(), mesos::v1::TASK_ERROR);
  EXPECT_NE(updates().back().message().find("health_check"), std::string::npos);
}

TEST_F(AgentTest, OperatorApiAndMetrics) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "sleep 1"));
  mesos::v1::agent::Call call;
  call.set_type(mesos::v1::agent::Call::GET_TASKS);
  auto answer = agent->operatorCall(call);
  ASSERT_EQ(answer.status, 200);
  ASSERT_EQ(answer.response->get_tasks().launched_tasks_size(), 1);
  EXPECT_EQ(answer.response->get_tasks().launched_tasks(0).state(), mesos::v1::TASK_RUNNING);
  call.set_type(mesos::v1::agent::Call::GET_STATE);
  answer = agent->operatorCall(call);
  EXPECT_EQ(answer.response->get_state().get_frameworks().frameworks_size(), 1);
  EXPECT_EQ(answer.response->get_state().get_executors().executors(0).executor_info()
                .executor_id().value(), "t1");
  call.set_type(mesos::v1::agent::Call::GET_CONTAINERS);
  EXPECT_EQ(agent->operatorCall(call).response->get_containers().containers_size(), 1);
  call.set_type(mesos::v1::agent::Call::LAUNCH_CONTAINER);
  EXPECT_EQ(agent->operatorCall(call).status, 501);
  std::string metrics = agent->metricsText();
  EXPECT_NE(metrics.find("nucleo_agent_tasks{state=\"TASK_RUNNING\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("nucleo_agent_status_updates_pending 2"), std::string::npos);
  EXPECT_NE(metrics.find("nucleo_agent_containers 1"), std::string::npos);
}

TEST_F(AgentTest, OperatorApiFilesFlagsAndReportedIsolators) {
  options_.isolation = "cgroups/mem,filesystem/posix,docker/runtime";
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "sleep 1"));
  std::string sandbox = containers_.containers[containers_.order[0]].launch.sandbox;
  ASSERT_TRUE(fs::writeFileAtomic(sandbox + "/stdout", "hello operator\n", 0644, fs::Durability::Volatile));
  mesos::v1::agent::Call call;
  call.set_type(mesos::v1::agent::Call::LIST_FILES);
  call.mutable_list_files()->set_path("/frameworks/F1/executors/t1/runs/latest");
  auto list = agent->operatorCall(call);
  ASSERT_EQ(list.status, 200) << list.error;
  ASSERT_EQ(list.response->list_files().file_infos_size(), 1);
  EXPECT_EQ(list.response->list_files().file_infos(0).path(),
            "/frameworks/F1/executors/t1/runs/latest/stdout");
  EXPECT_EQ(list.response->list_files().file_infos(0).size(), 15u);
  call.set_type(mesos::v1::agent::Call::READ_FILE);
  call.mutable_read_file()->set_path(sandbox + "/stdout");
  call.mutable_read_file()->set_offset(6);
  auto read = agent->operatorCall(call);
  ASSERT_EQ(read.status, 200) << read.error;
  EXPECT_EQ(read.response->read_file().data(), "operator\n");
  EXPECT_EQ(read.response->read_file().size(), 15u);
  call.mutable_read_file()->set_path("/frameworks/F1/executors/nope/runs/latest/stdout");
  EXPECT_EQ(agent->operatorCall(call).status, 404);
  call.clear_read_file();
  EXPECT_EQ(agent->operatorCall(call).status, 400);
  call.set_type(mesos::v1::agent::Call::GET_FLAGS);
  auto flags = agent->operatorCall(call);
  ASSERT_EQ(flags.status, 200);
  std::string isolation;
  for (const auto& f : flags.response->get_flags().flags())
    if (f.name() == "isolation") isolation = f.value();
  EXPECT_EQ(isolation, "cgroups/mem,filesystem/posix");
  auto reg = agent->registerCall().register_();
  ASSERT_EQ(reg.isolators_size(), 2);
  EXPECT_EQ(reg.isolators(0), "cgroups/mem");
  ASSERT_EQ(reg.isolated_resources_size(), 1);
  EXPECT_EQ(reg.isolated_resources(0), "mem");
}

TEST_F(AgentTest, ShutdownKillsAndForgetsEverything) {
  auto agent = start();
  registerAs(*agent, "A1");
  agent->handleEvent(runTask("t1", "sleep 100"));
  AgentEvent e;
  e.set_type(AgentEvent::SHUTDOWN);
  agent->handleEvent(e);
  EXPECT_TRUE(containers_.containers[containers_.order[0]].destroyed);
  EXPECT_FALSE(fs::exists(dir_ + "/meta/slaves/latest"));
  EXPECT_FALSE(agent->registerCall().register_().agent_info().has_id());
  EXPECT_EQ(agent->registerCall().register_().tasks_size(), 0);
}

}  // namespace
}  // namespace nucleo::agent
