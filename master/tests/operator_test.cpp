// The operator API beyond reads (SUBSCRIBE events, weights, roles, drains)
// and framework updates, on the master's state machine with a FakeClock.

#include <gtest/gtest.h>

#include "base/fs.hpp"
#include "master/tests/master_fixture.hpp"

namespace nucleo::master {
namespace {

using namespace test_support;
using OperatorCall = mesos::v1::master::Call;
using OperatorEvent = mesos::v1::master::Event;
using OperatorStream = RecordingStream<OperatorEvent>;

OperatorCall operatorCall(OperatorCall::Type type) {
  OperatorCall call;
  call.set_type(type);
  return call;
}

Call multiRoleSubscribe(const std::vector<std::string>& roles) {
  Call call;
  call.set_type(Call::SUBSCRIBE);
  auto* info = call.mutable_subscribe()->mutable_framework_info();
  info->set_user("root");
  info->set_name("multi");
  info->set_failover_timeout(60);
  info->add_capabilities()->set_type(mesos::v1::FrameworkInfo::Capability::MULTI_ROLE);
  for (const auto& role : roles) info->add_roles(role);
  return call;
}

TEST_F(MasterTest, OperatorSubscribersSeeStateThenEveryChange) {
  auto fw = std::make_shared<FrameworkStream>();
  auto before = subscribe(fw);
  auto ops = std::make_shared<OperatorStream>();
  ASSERT_EQ(master.operatorSubscribe(ops).status, 200);
  ASSERT_EQ(ops->events.at(0).type(), OperatorEvent::SUBSCRIBED);
  const auto& subscribed = ops->events[0].subscribed();
  EXPECT_EQ(subscribed.heartbeat_interval_seconds(), 5.0);
  ASSERT_EQ(subscribed.get_state().get_frameworks().frameworks_size(), 1);
  EXPECT_EQ(subscribed.get_state().get_frameworks().frameworks(0).framework_info().id().value(),
            before);

  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  ASSERT_EQ(ops->ofType(OperatorEvent::AGENT_ADDED).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::AGENT_ADDED)[0].agent_added().agent().agent_info().id().value(),
            agentId);

  master.allocate();
  std::string frameworkId = before;
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 1u);
  ASSERT_EQ(call(launchCall(offers[0].offers().offers(0).id().value(), agentId, "t1"),
                 frameworkId).status, 202);
  ASSERT_EQ(ops->ofType(OperatorEvent::TASK_ADDED).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::TASK_ADDED)[0].task_added().task().state(),
            mesos::v1::TASK_STAGING);
  ASSERT_EQ(statusUpdate(agentId, frameworkId, "t1", mesos::v1::TASK_RUNNING, randomUuidBytes()).status,
            202);
  auto updated = ops->ofType(OperatorEvent::TASK_UPDATED);
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated[0].task_updated().state(), mesos::v1::TASK_RUNNING);
  EXPECT_EQ(updated[0].task_updated().framework_id().value(), frameworkId);
  EXPECT_EQ(updated[0].task_updated().status().task_id().value(), "t1");

  clock.advance(5s);
  master.tick();
  EXPECT_FALSE(ops->ofType(OperatorEvent::HEARTBEAT).empty());

  std::string keep = streamId;
  auto second = subscribe(std::make_shared<FrameworkStream>());
  streamId = keep;
  ASSERT_EQ(ops->ofType(OperatorEvent::FRAMEWORK_ADDED).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::FRAMEWORK_ADDED)[0]
                .framework_added().framework().framework_info().id().value(),
            second);

  OperatorCall teardown = operatorCall(OperatorCall::TEARDOWN);
  teardown.mutable_teardown()->mutable_framework_id()->set_value(frameworkId);
  ASSERT_EQ(master.operatorCall(teardown).status, 200);
  ASSERT_EQ(ops->ofType(OperatorEvent::FRAMEWORK_REMOVED).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::FRAMEWORK_REMOVED)[0]
                .framework_removed().framework_info().id().value(),
            frameworkId);

  OperatorCall gone = operatorCall(OperatorCall::MARK_AGENT_GONE);
  gone.mutable_mark_agent_gone()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(gone).status, 200);
  ASSERT_EQ(ops->ofType(OperatorEvent::AGENT_REMOVED).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::AGENT_REMOVED)[0].agent_removed().agent_id().value(), agentId);

  // A subscriber whose queue is full is dropped; the others go on.
  auto slow = std::make_shared<OperatorStream>();
  slow->limit = 1;
  ASSERT_EQ(master.operatorSubscribe(slow).status, 200);
  size_t seen = ops->events.size();
  subscribe(std::make_shared<FrameworkStream>());
  EXPECT_TRUE(slow->closed());
  EXPECT_GT(ops->events.size(), seen);
}

class SmallMasterTest : public MasterTest {
 protected:
  static MasterOptions small() {
    MasterOptions o = options();
    o.maxOperatorSubscribers = 2;
    o.maxCompletedTasksPerFramework = 2;
    return o;
  }
  SmallMasterTest() : MasterTest(small()) {}
};

TEST_F(SmallMasterTest, OperatorSubscribersAreCapped) {
  auto a = std::make_shared<OperatorStream>();
  auto b = std::make_shared<OperatorStream>();
  auto c = std::make_shared<OperatorStream>();
  EXPECT_EQ(master.operatorSubscribe(a).status, 200);
  EXPECT_EQ(master.operatorSubscribe(b).status, 200);
  EXPECT_EQ(master.operatorSubscribe(c).status, 503);
  master.streamClosed(a.get());  // a subscriber left: room for another
  EXPECT_EQ(master.operatorSubscribe(c).status, 200);
}

TEST_F(SmallMasterTest, CompletedTasksAreKeptInABoundedList) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent, "cpus:8;mem:8192");
  for (int i = 0; i < 3; ++i) {
    master.allocate();
    auto offers = fw->ofType(Event::OFFERS);
    ASSERT_FALSE(offers.empty());
    std::string taskId = "t" + std::to_string(i);
    ASSERT_EQ(call(launchCall(offers.back().offers().offers(0).id().value(), agentId, taskId),
                   frameworkId).status, 202);
    std::string uuid = randomUuidBytes();
    statusUpdate(agentId, frameworkId, taskId, mesos::v1::TASK_FINISHED, uuid);
    auto tasks = master.operatorCall(operatorCall(OperatorCall::GET_TASKS)).response.get_tasks();
    EXPECT_EQ(tasks.tasks_size(), 1);  // terminal, not yet acknowledged
    Call ack;
    ack.set_type(Call::ACKNOWLEDGE);
    ack.mutable_acknowledge()->mutable_agent_id()->set_value(agentId);
    ack.mutable_acknowledge()->mutable_task_id()->set_value(taskId);
    ack.mutable_acknowledge()->set_uuid(uuid);
    ASSERT_EQ(call(ack, frameworkId).status, 202);
    clock.advance(10s);  // past the decline filter of the unused resources
  }
  auto tasks = master.operatorCall(operatorCall(OperatorCall::GET_TASKS)).response.get_tasks();
  EXPECT_EQ(tasks.tasks_size(), 0);
  ASSERT_EQ(tasks.completed_tasks_size(), 2);
  EXPECT_EQ(tasks.completed_tasks(0).task_id().value(), "t1");
  EXPECT_EQ(tasks.completed_tasks(1).task_id().value(), "t2");
  EXPECT_EQ(tasks.completed_tasks(1).state(), mesos::v1::TASK_FINISHED);
  EXPECT_NE(master.stateJson().find("\"completed_tasks\""), std::string::npos);
}

TEST_F(MasterTest, WeightsAreUpdatedValidatedAndShownInRoles) {
  OperatorCall update = operatorCall(OperatorCall::UPDATE_WEIGHTS);
  auto* w = update.mutable_update_weights()->add_weight_infos();
  w->set_role("prod");
  w->set_weight(3);
  ASSERT_EQ(master.operatorCall(update).status, 200);
  auto weights = master.operatorCall(operatorCall(OperatorCall::GET_WEIGHTS)).response.get_weights();
  ASSERT_EQ(weights.weight_infos_size(), 1);
  EXPECT_EQ(weights.weight_infos(0).role(), "prod");
  EXPECT_EQ(weights.weight_infos(0).weight(), 3.0);
  auto roles = master.operatorCall(operatorCall(OperatorCall::GET_ROLES)).response.get_roles();
  ASSERT_EQ(roles.roles_size(), 1);
  EXPECT_EQ(roles.roles(0).name(), "prod");
  EXPECT_EQ(roles.roles(0).weight(), 3.0);
  w->set_weight(-1);
  EXPECT_EQ(master.operatorCall(update).status, 400);
  w->set_weight(1);
  w->set_role("/bad");
  EXPECT_EQ(master.operatorCall(update).status, 400);
}

TEST_F(MasterTest, DrainKillsTasksAndEndsDrainedThenGone) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw);
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);
  clock.advance(10s);
  master.allocate();
  ASSERT_EQ(fw->ofType(Event::OFFERS).size(), 2u);  // the rest of the agent

  OperatorCall drain = operatorCall(OperatorCall::DRAIN_AGENT);
  drain.mutable_drain_agent()->mutable_agent_id()->set_value(agentId);
  drain.mutable_drain_agent()->mutable_max_grace_period()->set_nanoseconds(2'000'000'000);
  drain.mutable_drain_agent()->set_mark_gone(true);
  ASSERT_EQ(master.operatorCall(drain).status, 200);
  auto kills = agent->ofType(nucleo::agent::Event::KILL_TASK);
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].kill_task().task_id().value(), "t1");
  EXPECT_EQ(kills[0].kill_task().kill_policy().grace_period().nanoseconds(), 2'000'000'000);
  EXPECT_EQ(fw->ofType(Event::RESCIND).size(), 1u);
  auto agents = master.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  ASSERT_EQ(agents.agents_size(), 1);
  EXPECT_TRUE(agents.agents(0).deactivated());
  EXPECT_EQ(agents.agents(0).drain_info().state(), mesos::v1::master::DRAINING);
  EXPECT_TRUE(agents.agents(0).drain_info().config().mark_gone());

  clock.advance(10s);
  master.tick();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 2u);  // nothing offered from a draining agent
  std::string uuid = randomUuidBytes();
  statusUpdate(agentId, frameworkId, "t1", mesos::v1::TASK_KILLED, uuid);
  master.tick();  // killed but not acknowledged: still draining
  agents = master.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  EXPECT_EQ(agents.agents(0).drain_info().state(), mesos::v1::master::DRAINING);
  Call ack;
  ack.set_type(Call::ACKNOWLEDGE);
  ack.mutable_acknowledge()->mutable_agent_id()->set_value(agentId);
  ack.mutable_acknowledge()->mutable_task_id()->set_value("t1");
  ack.mutable_acknowledge()->set_uuid(uuid);
  ASSERT_EQ(call(ack, frameworkId).status, 202);
  master.tick();  // drained, and gone as asked
  EXPECT_EQ(agent->ofType(nucleo::agent::Event::SHUTDOWN).size(), 1u);
  agents = master.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  EXPECT_EQ(agents.agents_size(), 0);
  EXPECT_EQ(master.operatorCall(drain).status, 404);
}

TEST_F(MasterTest, DrainWithoutMarkGoneStaysDrainedUntilReactivated) {
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  OperatorCall drain = operatorCall(OperatorCall::DRAIN_AGENT);
  drain.mutable_drain_agent()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(drain).status, 200);
  master.tick();
  auto agents = master.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  EXPECT_EQ(agents.agents(0).drain_info().state(), mesos::v1::master::DRAINED);
  OperatorCall reactivate = operatorCall(OperatorCall::REACTIVATE_AGENT);
  reactivate.mutable_reactivate_agent()->mutable_agent_id()->set_value(agentId);
  ASSERT_EQ(master.operatorCall(reactivate).status, 200);
  agents = master.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  EXPECT_FALSE(agents.agents(0).has_drain_info());
  EXPECT_FALSE(agents.agents(0).deactivated());
  auto fw = std::make_shared<FrameworkStream>();
  subscribe(fw);
  master.allocate();
  EXPECT_EQ(fw->ofType(Event::OFFERS).size(), 1u);
}

TEST_F(MasterTest, UpdateFrameworkChangesRolesAndRescindsTheirOffers) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw, multiRoleSubscribe({"a"}));
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].offers().offers(0).allocation_info().role(), "a");

  Call update;
  update.set_type(Call::UPDATE_FRAMEWORK);
  *update.mutable_update_framework()->mutable_framework_info() =
      multiRoleSubscribe({"b"}).subscribe().framework_info();
  update.mutable_update_framework()->mutable_framework_info()->mutable_id()->set_value(frameworkId);
  auto ops = std::make_shared<OperatorStream>();
  ASSERT_EQ(master.operatorSubscribe(ops).status, 200);
  auto answer = call(update, frameworkId);
  ASSERT_EQ(answer.status, 200) << answer.body;
  ASSERT_EQ(fw->ofType(Event::RESCIND).size(), 1u);
  EXPECT_EQ(ops->ofType(OperatorEvent::FRAMEWORK_UPDATED).size(), 1u);
  master.allocate();
  offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[1].offers().offers(0).allocation_info().role(), "b");
  auto roles = master.operatorCall(operatorCall(OperatorCall::GET_ROLES)).response.get_roles();
  ASSERT_EQ(roles.roles_size(), 1);
  EXPECT_EQ(roles.roles(0).name(), "b");

  // What Mesos does not let change, and what nucleo does not support.
  auto changed = update;
  changed.mutable_update_framework()->mutable_framework_info()->set_user("other");
  EXPECT_EQ(call(changed, frameworkId).status, 400);
  changed = update;
  changed.mutable_update_framework()->mutable_framework_info()->mutable_id()->set_value("x");
  EXPECT_EQ(call(changed, frameworkId).status, 400);
  changed = update;
  (*changed.mutable_update_framework()->mutable_offer_constraints()->mutable_role_constraints())["b"];
  auto refused = call(changed, frameworkId);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("not supported"), std::string::npos);
}

TEST_F(MasterTest, ResubscriptionMayChangeRolesAndTasksKeepTheirs) {
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw, multiRoleSubscribe({"a"}));
  auto agent = std::make_shared<AgentStream>();
  auto agentId = registerAgent(agent);
  master.allocate();
  auto offerId = fw->ofType(Event::OFFERS).at(0).offers().offers(0).id().value();
  ASSERT_EQ(call(launchCall(offerId, agentId, "t1"), frameworkId).status, 202);

  Call again = multiRoleSubscribe({"b"});
  again.mutable_framework_id()->set_value(frameworkId);
  again.mutable_subscribe()->mutable_framework_info()->mutable_id()->set_value(frameworkId);
  auto fw2 = std::make_shared<FrameworkStream>();
  auto response = master.schedulerCall(again, {}, fw2);
  ASSERT_EQ(response.status, 200) << response.body;
  streamId = response.streamId;
  clock.advance(10s);
  master.allocate();
  auto offers = fw2->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].offers().offers(0).allocation_info().role(), "b");
  // The running task still counts for role a until it ends.
  auto roles = master.operatorCall(operatorCall(OperatorCall::GET_ROLES)).response.get_roles();
  std::map<std::string, bool> withFramework;
  for (const auto& role : roles.roles()) withFramework[role.name()] = role.frameworks_size() > 0;
  EXPECT_TRUE(withFramework["b"]);
  ASSERT_EQ(statusUpdate(agentId, frameworkId, "t1", mesos::v1::TASK_FINISHED, "").status, 202);
  master.allocate();  // the freed resources go to role b
  EXPECT_EQ(fw2->ofType(Event::OFFERS).size(), 2u);
}

TEST_F(MasterTest, OfferFiltersKeepSmallOffersAway) {
  Call picky = multiRoleSubscribe({"a"});
  auto& filters = (*picky.mutable_subscribe()->mutable_framework_info()->mutable_offer_filters())["a"];
  auto* min = filters.mutable_min_allocatable_resources()->add_quantities();
  (*min->mutable_quantities())["cpus"].set_value(8);
  auto fw = std::make_shared<FrameworkStream>();
  auto frameworkId = subscribe(fw, picky);
  auto agent = std::make_shared<AgentStream>();
  registerAgent(agent, "cpus:4;mem:4096");
  master.allocate();
  EXPECT_TRUE(fw->ofType(Event::OFFERS).empty());
  registerAgent(std::make_shared<AgentStream>(), "cpus:16;mem:4096");
  master.allocate();
  auto offers = fw->ofType(Event::OFFERS);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(*fromProto(offers[0].offers().offers(0).resources()),
            *Resources::parse("cpus:16;mem:4096"));
  // Filters must name the framework's roles.
  Call bad = multiRoleSubscribe({"a"});
  (*bad.mutable_subscribe()->mutable_framework_info()->mutable_offer_filters())["z"];
  EXPECT_EQ(master.schedulerCall(bad, {}, std::make_shared<FrameworkStream>()).status, 400);
}

TEST(MasterRegistryRecovery, WeightsDrainsAndReregisterTimeout) {
  char dir[] = "/tmp/nucleo-registry-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  FileRegistry registry(std::string(dir) + "/registry.pb");
  FakeClock clock;
  MasterOptions options;
  options.agentReregisterTimeout = std::chrono::minutes(10);
  std::string drained, silent;
  {
    Master master(options, clock, &registry);
    ASSERT_TRUE(master.recover());
    for (auto* id : {&drained, &silent}) {
      nucleo::agent::Call reg;
      reg.set_type(nucleo::agent::Call::REGISTER);
      reg.mutable_register_()->mutable_agent_info()->set_hostname("node");
      auto agent = std::make_shared<AgentStream>();
      ASSERT_EQ(master.agentCall(reg, {}, agent).status, 200);
      master.tick();
      *id = agent->events.at(0).registered().agent_id().value();
    }
    OperatorCall update = operatorCall(OperatorCall::UPDATE_WEIGHTS);
    auto* w = update.mutable_update_weights()->add_weight_infos();
    w->set_role("prod");
    w->set_weight(2.5);
    ASSERT_EQ(master.operatorCall(update).status, 200);
    OperatorCall drain = operatorCall(OperatorCall::DRAIN_AGENT);
    drain.mutable_drain_agent()->mutable_agent_id()->set_value(drained);
    ASSERT_EQ(master.operatorCall(drain).status, 200);
    // No tick: both calls were stored before they were answered.
  }
  Master restarted(options, clock, &registry);
  ASSERT_TRUE(restarted.recover());
  auto weights = restarted.operatorCall(operatorCall(OperatorCall::GET_WEIGHTS)).response.get_weights();
  ASSERT_EQ(weights.weight_infos_size(), 1);
  EXPECT_EQ(weights.weight_infos(0).weight(), 2.5);

  // A partition-aware framework asks about a task on the silent agent: no
  // answer while the agent may come back, TASK_UNREACHABLE after the timeout.
  Call subscribe;
  subscribe.set_type(Call::SUBSCRIBE);
  auto* info = subscribe.mutable_subscribe()->mutable_framework_info();
  info->set_user("u");
  info->set_name("n");
  info->add_capabilities()->set_type(mesos::v1::FrameworkInfo::Capability::PARTITION_AWARE);
  auto fw = std::make_shared<FrameworkStream>();
  auto response = restarted.schedulerCall(subscribe, {}, fw);
  ASSERT_EQ(response.status, 200);
  std::string frameworkId = fw->events.at(0).subscribed().framework_id().value();
  Call reconcile;
  reconcile.set_type(Call::RECONCILE);
  reconcile.mutable_framework_id()->set_value(frameworkId);
  auto* task = reconcile.mutable_reconcile()->add_tasks();
  task->mutable_task_id()->set_value("t1");
  task->mutable_agent_id()->set_value(silent);
  ASSERT_EQ(restarted.schedulerCall(reconcile, {response.streamId, "", ""}, nullptr).status, 202);
  EXPECT_TRUE(fw->ofType(Event::UPDATE).empty());

  // The drained agent comes back: still draining, no tasks, so drained.
  nucleo::agent::Call reg;
  reg.set_type(nucleo::agent::Call::REGISTER);
  reg.mutable_register_()->mutable_agent_info()->set_hostname("node");
  reg.mutable_register_()->mutable_agent_info()->mutable_id()->set_value(drained);
  ASSERT_EQ(restarted.agentCall(reg, {}, std::make_shared<AgentStream>()).status, 200);
  restarted.tick();
  auto agents = restarted.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  ASSERT_EQ(agents.agents_size(), 1);
  EXPECT_EQ(agents.agents(0).drain_info().state(), mesos::v1::master::DRAINED);
  EXPECT_TRUE(agents.agents(0).deactivated());
  ASSERT_EQ(agents.recovered_agents_size(), 1);

  clock.advance(std::chrono::minutes(11));
  restarted.tick();
  agents = restarted.operatorCall(operatorCall(OperatorCall::GET_AGENTS)).response.get_agents();
  EXPECT_EQ(agents.recovered_agents_size(), 0);
  ASSERT_EQ(restarted.schedulerCall(reconcile, {response.streamId, "", ""}, nullptr).status, 202);
  auto updates = fw->ofType(Event::UPDATE);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].update().status().state(), mesos::v1::TASK_UNREACHABLE);
  // It may still come back later.
  reg.mutable_register_()->mutable_agent_info()->mutable_id()->set_value(silent);
  auto back = std::make_shared<AgentStream>();
  ASSERT_EQ(restarted.agentCall(reg, {}, back).status, 200);
  restarted.tick();
  ASSERT_EQ(back->events.size(), 1u);
  EXPECT_EQ(back->events[0].registered().agent_id().value(), silent);
  ASSERT_TRUE(fs::removeAll(dir));
}

}  // namespace
}  // namespace nucleo::master
