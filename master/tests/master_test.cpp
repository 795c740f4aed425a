// The master's state machine driven directly (no HTTP), with recording
// streams and a FakeClock.

#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "master/tests/master_fixture.hpp"

namespace nucleo::master {
namespace {

using namespace test_support;

TEST_F(MasterTest, SubscribeSendsSubscribedWithHeartbeatInterval) {
  auto stream = std::make_shared<FrameworkStream>();
  auto id = subscribe(stream);
  EXPECT_EQ(id.rfind(master.id(), 0), 0u);
  EXPECT_DOUBLE_EQ(stream->events[0].subscribed().heartbeat_interval_seconds(), 5);
  EXPECT_EQ(stream->events[0].subscribed().master_info().port(), 5050u);
  clock.advance(5s);
  master.tick();
  EXPECT_EQ(stream->ofType(Event::HEARTBEAT).size(), 1u);
}

TEST_F(MasterTest, OffersCarryAgentAddressAndResources) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 1u);
  const auto& offer = offers[0].offers().offers(0);
  EXPECT_EQ(offer.agent_id().value(), agentId);
  EXPECT_EQ(offer.framework_id().value(), frameworkId);
  EXPECT_EQ(offer.hostname(), "node1");
  EXPECT_EQ(offer.url().address().ip(), "127.0.0.2");
  EXPECT_EQ(offer.url().address().port(), 5051);
  EXPECT_FALSE(offer.has_allocation_info());  // not MULTI_ROLE
  EXPECT_TRUE(*fromProto(offer.resources()) == *Resources::parse("cpus:4;mem:4096;ports:[31000-32000]"));
}

TEST_F(MasterTest, LaunchReachesTheAgentAndUpdatesFlowBack) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  EXPECT_EQ(call(launchCall(offerId, agentId, "task1"), frameworkId).status, 202);
  auto runs = agent->ofType(nucleo::agent::Event::RUN_TASK);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run_task().task().task_id().value(), "task1");
  EXPECT_EQ(runs[0].run_task().framework().id().value(), frameworkId);

  std::string uuid = randomUuidBytes();
  EXPECT_EQ(statusUpdate(agentId, frameworkId, "task1", mesos::v1::TASK_RUNNING, uuid).status, 202);
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_RUNNING);
  EXPECT_EQ(updates[0].update().status().uuid(), uuid);

  Call ack;
  ack.set_type(Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value(agentId);
  ack.mutable_acknowledge()->mutable_task_id()->set_value("task1");
  ack.mutable_acknowledge()->set_uuid(uuid);
  EXPECT_EQ(call(ack, frameworkId).status, 202);
  auto acks = agent->ofType(nucleo::agent::Event::ACKNOWLEDGE);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].acknowledge().uuid(), uuid);
  EXPECT_NE(master.stateJson().find("\"state\":\"TASK_RUNNING\""), std::string::npos);
}

TEST_F(MasterTest, UnusedResourcesOfAnAcceptAreFilteredThenReoffered) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "task1"), frameworkId).status, 202);
  master.allocate();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 1u);  // 5 s default filter
  clock.advance(5s);
  master.allocate();
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_TRUE(*fromProto(offers[1].offers().offers(0).resources()) ==
              *Resources::parse("cpus:3;mem:3968;ports:[31000-32000]"));
}

TEST_F(MasterTest, InvalidTasksGetTaskErrorWithReason) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  Call c = launchCall(offerId, agentId, "big", "cpus:64");
  auto* ops = c.mutable_accept()->mutable_operations(0)->mutable_launch();
  auto* dup = ops->add_task_infos();
  *dup = ops->task_infos(0);
  dup->mutable_task_id()->set_value("ok");
  toProto(*Resources::parse("cpus:1"), "", (dup->clear_resources(), dup->mutable_resources()));
  auto* again = ops->add_task_infos();
  *again = *dup;  // same id as "ok"
  auto* noCommand = ops->add_task_infos();
  *noCommand = *dup;
  noCommand->mutable_task_id()->set_value("nocmd");
  noCommand->clear_command();
  auto* wrongAgent = ops->add_task_infos();
  *wrongAgent = *dup;
  wrongAgent->mutable_task_id()->set_value("elsewhere");
  wrongAgent->mutable_agent_id()->set_value("other");
  ASSERT_EQ(call(c, frameworkId).status, 202);

  std::map<std::string, std::string> errors;
  for (const auto& u : fw->ofType(Event::UPDATE)) {
    EXPECT_EQ(u.update().status().state(), mesos::v1::TASK_ERROR);
    EXPECT_EQ(u.update().status().reason(), mesos::v1::TaskStatus::REASON_TASK_INVALID);
    EXPECT_FALSE(u.update().status().has_uuid());
    errors[u.update().status().task_id().value()] = u.update().status().message();
  }
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_NE(errors["big"].find("more than available"), std::string::npos) << errors["big"];
  EXPECT_NE(errors["ok"].find("duplicate ID"), std::string::npos) << errors["ok"];
  EXPECT_NE(errors["nocmd"].find("CommandInfo or ExecutorInfo"), std::string::npos);
  EXPECT_NE(errors["elsewhere"].find("agent"), std::string::npos);
  EXPECT_EQ(agent->ofType(nucleo::agent::Event::RUN_TASK).size(), 1u);  // only "ok"
}

TEST_F(MasterTest, AcceptOfAnUnknownOfferLosesTheTasks) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  ASSERT_EQ(call(launchCall("nope", agentId, "t1"), frameworkId).status, 202);
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_LOST);
  EXPECT_EQ(updates[0].update().status().reason(), mesos::v1::TaskStatus::REASON_INVALID_OFFERS);
}

TEST_F(MasterTest, LaunchGroupStartsAllTasksAtOnce) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  Call c = launchCall(offerId, agentId, "a");
  auto task = c.accept().operations(0).launch().task_infos(0);
  auto* op = c.mutable_accept()->mutable_operations(0);
  op->Clear();
  op->set_type(mesos::v1::Offer::Operation::LAUNCH_GROUP);
  auto* executor = op->mutable_launch_group()->mutable_executor();
  executor->set_type(mesos::v1::ExecutorInfo::DEFAULT);
  executor->mutable_executor_id()->set_value("e1");
  toProto(*Resources::parse("cpus:0.1;mem:32"), "", executor->mutable_resources());
  *op->mutable_launch_group()->mutable_task_group()->add_tasks() = task;
  task.mutable_task_id()->set_value("b");
  *op->mutable_launch_group()->mutable_task_group()->add_tasks() = task;
  ASSERT_EQ(call(c, frameworkId).status, 202);
  auto runs = agent->ofType(nucleo::agent::Event::RUN_TASK_GROUP);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run_task_group().task_group().tasks_size(), 2);
  EXPECT_TRUE(fw->ofType(Event::UPDATE).empty());
}

TEST_F(MasterTest, DeclineFiltersForRefuseSeconds) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  registerAgent(agent);
  master.allocate();
  Call decline;
  decline.set_type(Call::DECLINE);
  *decline.mutable_decline()->add_offer_ids() = fw->ofType(Event::OFFERS)[0].offers().offers(0).id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(60);
  ASSERT_EQ(call(decline, frameworkId).status, 202);
  clock.advance(59s);
  master.allocate();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 1u);
  clock.advance(1s);
  master.allocate();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 2u);
}

TEST_F(MasterTest, OffersAreRescindedAfterTheOfferTimeout) {
  auto fw = std::make_shared<FrameworkStream>();
  subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS)[0].offers().offers(0).id().value();
  clock.advance(30s);
  master.tick();
  auto rescinds = fw->ofType(Event::RESCIND);
  ASSERT_EQ(rescinds.size(), 1u);
  EXPECT_EQ(rescinds[0].rescind().offer_id().value(), offerId);
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 2u);  // offered again right away
}

TEST_F(MasterTest, CallErrorsAnswerAsMesos) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  Call revive;
  revive.set_type(Call::REVIVE);
  revive.mutable_framework_id()->set_value(frameworkId);
  EXPECT_EQ(master.schedulerCall(revive, {"", "", ""}, nullptr).status, 400);  // no stream id
  EXPECT_EQ(master.schedulerCall(revive, {"wrong", "", ""}, nullptr).status, 400);
  EXPECT_EQ(call(revive, frameworkId).status, 202);
  EXPECT_EQ(call(revive, "unknown").status, 400);
  Call noType;
  EXPECT_EQ(call(noType, frameworkId).status, 400);
  Call unknown;
  unknown.set_type(Call::UNKNOWN);
  EXPECT_EQ(call(unknown, frameworkId).status, 501);
  Call accept;
  accept.set_type(Call::ACCEPT);
  auto r = call(accept, frameworkId);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Expecting 'accept' to be present"), std::string::npos) << r.body;
  Call ack;
  ack.set_type(Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value("a");
  ack.mutable_acknowledge()->mutable_task_id()->set_value("t");
  ack.mutable_acknowledge()->set_uuid("short");
  EXPECT_EQ(call(ack, frameworkId).status, 400);
  Call suppress;
  suppress.set_type(Call::SUPPRESS);
  suppress.mutable_suppress()->add_roles("not-mine");
  EXPECT_EQ(call(suppress, frameworkId).status, 400);
  // A subscription carrying a stream id is refused.
  auto again = master.schedulerCall(subscribeCall(), {"x", "", ""}, std::make_shared<FrameworkStream>());
  EXPECT_EQ(again.status, 400);
}

TEST_F(MasterTest, FailoverMovesTheStreamAndTheOldOneGetsAnError) {
  auto first = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(first);
  auto second = std::make_shared<FrameworkStream>();
  auto response = master.schedulerCall(subscribeCall(frameworkId), {}, second);
  ASSERT_EQ(response.status, 200);
  ASSERT_FALSE(first->ofType(Event::ERROR).empty());
  EXPECT_EQ(first->ofType(Event::ERROR)[0].error().message(), "Framework failed over");
  EXPECT_TRUE(first->closed());
  EXPECT_EQ(second->events[0].subscribed().framework_id().value(), frameworkId);
  master.streamClosed(first.get());  // the old connection ending changes nothing
  streamId = response.streamId;
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(call(revive, frameworkId).status, 202);
}

TEST_F(MasterTest, DisconnectedFrameworkIsRemovedAfterFailoverTimeout) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  master.streamClosed(fw.get());
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(call(revive, frameworkId).status, 403);  // not subscribed
  clock.advance(61s);
  master.tick();
  EXPECT_EQ(call(revive, frameworkId).status, 400);  // gone
  auto again = std::make_shared<FrameworkStream>();
  ASSERT_EQ(master.schedulerCall(subscribeCall(frameworkId), {}, again).status, 200);
  EXPECT_EQ(again->events.at(0).type(), Event::ERROR);
}

TEST_F(MasterTest, SilentAgentBecomesUnreachableAndItsTasksLost) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS)[0].offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);
  for (int i = 0; i < 16; ++i) {  // past 15 s x 5 pings
    clock.advance(5s);
    master.tick();
  }
  EXPECT_TRUE(agent->closed());
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_LOST);
  EXPECT_FALSE(agent->ofType(nucleo::agent::Event::PING).empty());
}

TEST_F(MasterTest, ReregisteringAgentReconcilesItsTasks) {
  auto fw = std::make_shared<FrameworkStream>();
  Call sub = subscribeCall();
  sub.mutable_subscribe()->mutable_framework_info()->add_capabilities()->set_type(
      mesos::v1::FrameworkInfo::Capability::PARTITION_AWARE);
  auto subscribed = master.schedulerCall(sub, {}, fw);
  ASSERT_EQ(subscribed.status, 200);
  streamId = subscribed.streamId;
  auto frameworkId = fw->events.at(0).subscribed().framework_id().value();
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  Call launch = launchCall(offerId, agentId, "t1");
  auto second = launch.accept().operations(0).launch().task_infos(0);
  second.mutable_task_id()->set_value("t2");
  *launch.mutable_accept()->mutable_operations(0)->mutable_launch()->add_task_infos() = second;
  ASSERT_EQ(call(launch, frameworkId).status, 202);
  for (int i = 0; i < 16; ++i) {
    clock.advance(5s);
    master.tick();
  }
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_UNREACHABLE);

  // The agent comes back with t1 running; t2 is gone.
  nucleo::agent::Call reg;
  reg.set_type(nucleo::agent::Call::REGISTER);
  auto* info = reg.mutable_register_()->mutable_agent_info();
  info->set_hostname("node1");
  info->mutable_id()->set_value(agentId);
  toProto(*Resources::parse("cpus:4;mem:4096;ports:[31000-32000]"), "", info->mutable_resources());
  auto* task = reg.mutable_register_()->add_tasks();
  task->mutable_task_id()->set_value("t1");
  task->mutable_framework_id()->set_value(frameworkId);
  task->mutable_agent_id()->set_value(agentId);
  task->set_state(mesos::v1::TASK_RUNNING);
  toProto(*Resources::parse("cpus:1;mem:128"), "", task->mutable_resources());
  size_t offersBefore = fw->ofType(Event::OFFERS).size();
  auto back = std::make_shared<AgentStream>();
  auto response = master.agentCall(reg, {"", "", "127.0.0.2"}, back);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(back->events.at(0).registered().agent_id().value(), agentId);
  updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 4u);
  std::map<std::string, mesos::v1::TaskState> states;
  for (size_t i = 2; i < updates.size(); ++i)
    states[updates[i].update().status().task_id().value()] = updates[i].update().status().state();
  EXPECT_EQ(states["t1"], mesos::v1::TASK_RUNNING);
  EXPECT_EQ(states["t2"], mesos::v1::TASK_GONE);
  master.allocate();  // what t1 does not use is offered again
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), offersBefore + 1);
  EXPECT_TRUE(*fromProto(offers.back().offers().offers(0).resources()) ==
              *Resources::parse("cpus:3;mem:3968;ports:[31000-32000]"));
}

TEST_F(MasterTest, ReconcileAnswersWithoutUuid) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS)[0].offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);
  Call reconcile;
  reconcile.set_type(Call::RECONCILE);
  reconcile.mutable_reconcile();
  ASSERT_EQ(call(reconcile, frameworkId).status, 202);
  reconcile.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value("ghost");
  ASSERT_EQ(call(reconcile, frameworkId).status, 202);
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_STAGING);
  EXPECT_EQ(updates[1].update().status().task_id().value(), "ghost");
  EXPECT_EQ(updates[1].update().status().state(), mesos::v1::TASK_LOST);
  for (const auto& u : updates) {
    EXPECT_EQ(u.update().status().reason(), mesos::v1::TaskStatus::REASON_RECONCILIATION);
    EXPECT_FALSE(u.update().status().has_uuid());
  }
}

TEST_F(MasterTest, TeardownRemovesTheFrameworkAndTellsAgents) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS)[0].offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);
  Call teardown;
  teardown.set_type(Call::TEARDOWN);
  ASSERT_EQ(call(teardown, frameworkId).status, 202);
  EXPECT_TRUE(fw->closed());
  EXPECT_EQ(agent->ofType(nucleo::agent::Event::SHUTDOWN_FRAMEWORK).size(), 1u);
  EXPECT_NE(master.metricsText().find("nucleo_master_frameworks{state=\"completed\"} 1"),
            std::string::npos);
  // The removed framework and its task stay visible to operators.
  mesos::v1::master::Call getTasks;
  getTasks.set_type(mesos::v1::master::Call::GET_TASKS);
  auto tasks = master.operatorCall(getTasks).response.get_tasks();
  ASSERT_EQ(tasks.completed_tasks_size(), 1);
  EXPECT_EQ(tasks.completed_tasks(0).task_id().value(), "t1");
  EXPECT_EQ(tasks.completed_tasks(0).state(), mesos::v1::TASK_KILLED);
  mesos::v1::master::Call getFrameworks;
  getFrameworks.set_type(mesos::v1::master::Call::GET_FRAMEWORKS);
  auto frameworks = master.operatorCall(getFrameworks).response.get_frameworks();
  ASSERT_EQ(frameworks.completed_frameworks_size(), 1);
  EXPECT_FALSE(frameworks.completed_frameworks(0).framework_info().name().empty());
}

TEST_F(MasterTest, ReaderThatDoesNotKeepUpIsDisconnected) {
  auto fw = std::make_shared<FrameworkStream>();
  fw->limit = 2;
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  registerAgent(agent);
  master.allocate();  // OFFERS: the 2nd record
  clock.advance(5s);
  master.tick();      // HEARTBEAT does not fit
  EXPECT_TRUE(fw->closed());
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(call(revive, frameworkId).status, 403);
}

TEST_F(MasterTest, OperatorApiReportsAgentsFrameworksAndTasks) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS)[0].offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);

  mesos::v1::master::Call get;
  get.set_type(mesos::v1::master::Call::GET_STATE);
  auto answer = master.operatorCall(get);
  ASSERT_EQ(answer.status, 200);
  const auto& state = answer.response.get_state();
  ASSERT_EQ(state.get_agents().agents_size(), 1);
  EXPECT_EQ(state.get_agents().agents(0).agent_info().id().value(), agentId);
  EXPECT_TRUE(*fromProto(state.get_agents().agents(0).allocated_resources()) ==
              *Resources::parse("cpus:1;mem:128"));
  ASSERT_EQ(state.get_frameworks().frameworks_size(), 1);
  EXPECT_TRUE(state.get_frameworks().frameworks(0).connected());
  ASSERT_EQ(state.get_tasks().tasks_size(), 1);
  EXPECT_EQ(state.get_tasks().tasks(0).state(), mesos::v1::TASK_STAGING);

  get.set_type(mesos::v1::master::Call::GET_HEALTH);
  EXPECT_TRUE(master.operatorCall(get).response.get_health().healthy());
  get.set_type(mesos::v1::master::Call::GET_FLAGS);
  bool sawTimeout = false;
  auto flags = master.operatorCall(get);  // range-for over a temporary's member would dangle
  for (const auto& flag : flags.response.get_flags().flags())
    sawTimeout = sawTimeout || (flag.name() == "offer_timeout" && flag.value() == "30secs");
  EXPECT_TRUE(sawTimeout);
  get.set_type(mesos::v1::master::Call::GET_METRICS);
  std::map<std::string, double> metrics;
  auto answer2 = master.operatorCall(get);
  for (const auto& m : answer2.response.get_metrics().metrics()) metrics[m.name()] = m.value();
  EXPECT_EQ(metrics["master/slaves_active"], 1);
  EXPECT_EQ(metrics["master/tasks_known"], 1);
  get.set_type(mesos::v1::master::Call::GET_ROLES);
  auto roles = master.operatorCall(get);
  ASSERT_EQ(roles.status, 200);
  ASSERT_EQ(roles.response.get_roles().roles_size(), 1);
  const auto& role = roles.response.get_roles().roles(0);
  EXPECT_EQ(role.name(), "*");
  EXPECT_EQ(role.weight(), 1.0);
  ASSERT_EQ(role.frameworks_size(), 1);
  EXPECT_EQ(role.frameworks(0).value(), frameworkId);
  EXPECT_TRUE(*fromProto(role.resources()) == *Resources::parse("cpus:1;mem:128"));
  get.set_type(mesos::v1::master::Call::GET_MAINTENANCE_STATUS);
  EXPECT_EQ(master.operatorCall(get).status, 501);
  get.set_type(mesos::v1::master::Call::MARK_AGENT_GONE);  // without agent_id
  EXPECT_EQ(master.operatorCall(get).status, 400);
  get.Clear();
  EXPECT_EQ(master.operatorCall(get).status, 400);
}

TEST_F(MasterTest, OperatorDeactivatesAndMarksAgentsGone) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();

  mesos::v1::master::Call op;
  op.set_type(mesos::v1::master::Call::DEACTIVATE_AGENT);
  op.mutable_deactivate_agent()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(op).status, 200);
  ASSERT_EQ(fw->ofType(Event::RESCIND).size(), 1u);
  EXPECT_EQ(fw->ofType(Event::RESCIND)[0].rescind().offer_id().value(), offerId);
  master.allocate();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 1u);  // no offers while deactivated

  op.Clear();
  op.set_type(mesos::v1::master::Call::REACTIVATE_AGENT);
  op.mutable_reactivate_agent()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(op).status, 200);
  master.allocate();
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 2u);
  ASSERT_EQ(call(launchCall(offers[1].offers().offers(0).id().value(), agentId, "t1"), frameworkId).status, 202);

  op.Clear();
  op.set_type(mesos::v1::master::Call::MARK_AGENT_GONE);
  op.mutable_mark_agent_gone()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(op).status, 200);
  EXPECT_EQ(agent->ofType(nucleo::agent::Event::SHUTDOWN).size(), 1u);
  EXPECT_TRUE(agent->closed());
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_LOST);  // not partition-aware
  EXPECT_EQ(updates[0].update().status().reason(),
            mesos::v1::TaskStatus::REASON_AGENT_REMOVED_BY_OPERATOR);
  // A gone agent cannot come back under its id.
  nucleo::agent::Call reg;
  reg.set_type(nucleo::agent::Call::REGISTER);
  reg.mutable_register_()->mutable_agent_info()->set_hostname("node1");
  reg.mutable_register_()->mutable_agent_info()->mutable_id()->set_value(agentId);
  EXPECT_EQ(master.agentCall(reg, {}, std::make_shared<AgentStream>()).status, 403);
  EXPECT_EQ(master.operatorCall(op).status, 404);
}

TEST(MasterRegistry, RestartKeepsAgentsFrameworksAndRemovals) {
  char dir[] = "/tmp/nucleo-registry-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  FileRegistry registry(std::string(dir) + "/registry.pb");
  FakeClock clock;
  Call subscribe;
  subscribe.set_type(Call::SUBSCRIBE);
  subscribe.mutable_subscribe()->mutable_framework_info()->set_user("u");
  subscribe.mutable_subscribe()->mutable_framework_info()->set_name("n");
  subscribe.mutable_subscribe()->mutable_framework_info()->set_failover_timeout(3600);
  std::string kept, removed, agentId;
  {
    Master master(MasterOptions{}, clock, &registry);
    ASSERT_TRUE(master.recover());
    auto a = std::make_shared<RecordingStream<Event>>();
    auto b = std::make_shared<RecordingStream<Event>>();
    ASSERT_EQ(master.schedulerCall(subscribe, {}, a).status, 200);
    auto rb = master.schedulerCall(subscribe, {}, b);
    kept = a->events.at(0).subscribed().framework_id().value();
    removed = b->events.at(0).subscribed().framework_id().value();
    Call teardown;
    teardown.set_type(Call::TEARDOWN);
    teardown.mutable_framework_id()->set_value(removed);
    ASSERT_EQ(master.schedulerCall(teardown, {rb.streamId, "", ""}, nullptr).status, 202);
    nucleo::agent::Call reg;
    reg.set_type(nucleo::agent::Call::REGISTER);
    reg.mutable_register_()->mutable_agent_info()->set_hostname("node");
    auto agent = std::make_shared<RecordingStream<nucleo::agent::Event>>();
    ASSERT_EQ(master.agentCall(reg, {}, agent).status, 200);
    EXPECT_TRUE(agent->events.empty());  // REGISTERED waits for the registry
    master.tick();  // stores the registry
    ASSERT_EQ(agent->events.size(), 1u);
    agentId = agent->events.at(0).registered().agent_id().value();
  }
  Master restarted(MasterOptions{}, clock, &registry);
  ASSERT_TRUE(restarted.recover());
  mesos::v1::master::Call get;
  get.set_type(mesos::v1::master::Call::GET_AGENTS);
  auto agents = restarted.operatorCall(get).response.get_agents();
  ASSERT_EQ(agents.recovered_agents_size(), 1);
  EXPECT_EQ(agents.recovered_agents(0).id().value(), agentId);

  auto again = std::make_shared<RecordingStream<Event>>();
  Call resubscribe = subscribe;
  resubscribe.mutable_framework_id()->set_value(kept);
  resubscribe.mutable_subscribe()->mutable_framework_info()->mutable_id()->set_value(kept);
  ASSERT_EQ(restarted.schedulerCall(resubscribe, {}, again).status, 200);
  EXPECT_EQ(again->events.at(0).type(), Event::SUBSCRIBED);

  auto gone = std::make_shared<RecordingStream<Event>>();
  resubscribe.mutable_framework_id()->set_value(removed);
  resubscribe.mutable_subscribe()->mutable_framework_info()->mutable_id()->set_value(removed);
  ASSERT_EQ(restarted.schedulerCall(resubscribe, {}, gone).status, 200);
  ASSERT_EQ(gone->events.at(0).type(), Event::ERROR);
  EXPECT_EQ(gone->events.at(0).error().message(), "Framework has been removed");

  // A corrupt registry is an error, not a crash.
  ASSERT_TRUE(fs::writeFileAtomic(std::string(dir) + "/registry.pb", "\xff\xff garbage"));
  Master broken(MasterOptions{}, clock, &registry);
  EXPECT_FALSE(broken.recover());
  ASSERT_TRUE(fs::removeAll(dir));
}

}  // namespace
}  // namespace nucleo::master
