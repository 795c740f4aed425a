// nucleo-master over real HTTP on loopback: the Mesos v1 scheduler API with
// JSON and protobuf bodies, a simulated agent speaking proto/nucleo/agent.proto,
// error codes, and malformed input that must not hurt the master. The Beast
// client code is in http_client.hpp.

#include <random>
#include <thread>

#include "master/tests/http_client.hpp"

namespace nucleo::master {
namespace {

using namespace http_test;

TEST_F(MasterHttpTest, SubscribeStreamsJsonRecordsOnePerChunk) {
  StreamClient framework(port, "/api/v1/scheduler", subscribeJson(), kJson);
  ASSERT_EQ(framework.status, 200) << framework.errorBody;
  EXPECT_FALSE(framework.streamId.empty());
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  ASSERT_EQ(subscribed->type(), Event::SUBSCRIBED);
  EXPECT_FALSE(subscribed->subscribed().framework_id().value().empty());
  EXPECT_DOUBLE_EQ(subscribed->subscribed().heartbeat_interval_seconds(), 0.3);
  auto heartbeat = framework.nextEvent<Event>(2s);
  ASSERT_TRUE(heartbeat);
  EXPECT_EQ(heartbeat->type(), Event::HEARTBEAT);
  EXPECT_FALSE(framework.chunkMismatch);
}

TEST_F(MasterHttpTest, SubscribeWithProtobufBodies) {
  Call call;
  call.set_type(Call::SUBSCRIBE);
  call.mutable_subscribe()->mutable_framework_info()->set_user("u");
  call.mutable_subscribe()->mutable_framework_info()->set_name("pb");
  StreamClient framework(port, "/api/v1/scheduler", call.SerializeAsString(), kProtobuf,
                         kProtobuf);
  ASSERT_EQ(framework.status, 200) << framework.errorBody;
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  EXPECT_EQ(subscribed->type(), Event::SUBSCRIBED);
  // The other calls in protobuf too.
  Call revive;
  revive.set_type(Call::REVIVE);
  *revive.mutable_framework_id() = subscribed->subscribed().framework_id();
  auto reply = post(port, "/api/v1/scheduler", revive.SerializeAsString(), kProtobuf,
                    {{"Mesos-Stream-Id", framework.streamId}});
  EXPECT_EQ(reply.status, 202) << reply.body;
}

TEST_F(MasterHttpTest, OffersAcceptLaunchUpdateAcknowledge) {
  std::string agentId;
  auto agent = registerAgent(&agentId);
  StreamClient framework(port, "/api/v1/scheduler", subscribeJson(), kJson);
  ASSERT_EQ(framework.status, 200);
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  std::string frameworkId = subscribed->subscribed().framework_id().value();
  auto offers = framework.waitFor<Event>(Event::OFFERS);
  ASSERT_TRUE(offers);
  const auto& offer = offers->offers().offers(0);
  EXPECT_EQ(offer.agent_id().value(), agentId);
  EXPECT_EQ(offer.hostname(), "sim-agent");
  EXPECT_EQ(offer.url().address().ip(), "127.0.0.1");
  EXPECT_EQ(offer.url().address().port(), 5051);

  std::string accept = R"({"framework_id":{"value":")" + frameworkId +
      R"("},"type":"ACCEPT","accept":{"offer_ids":[{"value":")" + offer.id().value() +
      R"("}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"sleep",
      "task_id":{"value":"task-1"},"agent_id":{"value":")" + agentId + R"("},
      "command":{"value":"sleep 100"},"resources":[
      {"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"role":"*"},
      {"name":"mem","type":"SCALAR","scalar":{"value":128}}]}]}}],
      "filters":{"refuse_seconds":0.3}}})";
  auto reply = schedulerCall(framework.streamId, accept);
  ASSERT_EQ(reply.status, 202) << reply.body;
  EXPECT_TRUE(reply.body.empty());

  auto run = agent->waitFor<nucleo::agent::Event>(nucleo::agent::Event::RUN_TASK);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->run_task().task().task_id().value(), "task-1");
  EXPECT_EQ(run->run_task().task().command().value(), "sleep 100");

  std::string uuid = randomUuidBytes();
  nucleo::agent::Call update;
  update.set_type(nucleo::agent::Call::STATUS_UPDATE);
  update.mutable_agent_id()->set_value(agentId);
  update.mutable_status_update()->mutable_framework_id()->set_value(frameworkId);
  auto* status = update.mutable_status_update()->mutable_status();
  status->mutable_task_id()->set_value("task-1");
  status->set_state(mesos::v1::TASK_RUNNING);
  status->set_source(mesos::v1::TaskStatus::SOURCE_EXECUTOR);
  status->set_uuid(uuid);
  reply = post(port, "/api/v1/nucleo/agent", update.SerializeAsString(), kProtobuf,
               {{"Mesos-Stream-Id", agent->streamId}});
  ASSERT_EQ(reply.status, 202) << reply.body;

  auto running = framework.waitFor<Event>(Event::UPDATE);
  ASSERT_TRUE(running);
  EXPECT_EQ(running->update().status().state(), mesos::v1::TASK_RUNNING);
  EXPECT_EQ(running->update().status().uuid(), uuid);

  std::string ack = proto::toJson(running->update().status());  // reuse fields as a client would
  mesos::v1::TaskStatus parsed;
  ASSERT_TRUE(proto::fromJson(ack, &parsed));
  Call acknowledge;
  acknowledge.set_type(Call::ACKNOWLEDGE);
  acknowledge.mutable_framework_id()->set_value(frameworkId);
  acknowledge.mutable_acknowledge()->mutable_agent_id()->set_value(agentId);
  *acknowledge.mutable_acknowledge()->mutable_task_id() = parsed.task_id();
  acknowledge.mutable_acknowledge()->set_uuid(parsed.uuid());
  reply = schedulerCall(framework.streamId, proto::toJson(acknowledge));
  ASSERT_EQ(reply.status, 202) << reply.body;
  auto acked = agent->waitFor<nucleo::agent::Event>(nucleo::agent::Event::ACKNOWLEDGE);
  ASSERT_TRUE(acked);
  EXPECT_EQ(acked->acknowledge().uuid(), uuid);

  // The rest of the agent (filtered 0.3 s by the ACCEPT) comes back.
  auto start = std::chrono::steady_clock::now();
  auto again = framework.waitFor<Event>(Event::OFFERS);
  ASSERT_TRUE(again);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_TRUE(*fromProto(again->offers().offers(0).resources()) ==
              *Resources::parse("cpus:1.5;mem:896;disk:1000;ports:[31000-31999]"));

  auto state = request(port, http::verb::get, "/state", "", "");
  EXPECT_EQ(state.status, 200);
  EXPECT_NE(state.body.find("\"TASK_RUNNING\""), std::string::npos) << state.body;
  auto metrics = request(port, http::verb::get, "/metrics", "", "");
  EXPECT_NE(metrics.body.find("nucleo_master_tasks{state=\"TASK_RUNNING\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_FALSE(framework.chunkMismatch);
  EXPECT_FALSE(agent->chunkMismatch);
}

TEST_F(MasterHttpTest, DeclineAndInvalidLaunch) {
  std::string agentId;
  auto agent = registerAgent(&agentId);
  StreamClient framework(port, "/api/v1/scheduler", subscribeJson(), kJson);
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  std::string frameworkId = subscribed->subscribed().framework_id().value();
  auto offers = framework.waitFor<Event>(Event::OFFERS);
  ASSERT_TRUE(offers);
  std::string offerId = offers->offers().offers(0).id().value();
  std::string fw = R"({"framework_id":{"value":")" + frameworkId + R"("},)";
  auto reply = schedulerCall(framework.streamId, fw + R"("type":"DECLINE","decline":{
      "offer_ids":[{"value":")" + offerId + R"("}],"filters":{"refuse_seconds":0.5}}})");
  ASSERT_EQ(reply.status, 202) << reply.body;
  EXPECT_FALSE(framework.waitFor<Event>(Event::OFFERS, 300ms));  // filtered
  offers = framework.waitFor<Event>(Event::OFFERS, 3s);
  ASSERT_TRUE(offers);
  offerId = offers->offers().offers(0).id().value();

  reply = schedulerCall(framework.streamId, fw + R"("type":"ACCEPT","accept":{"offer_ids":[
      {"value":")" + offerId + R"("}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[
      {"name":"greedy","task_id":{"value":"t2"},"agent_id":{"value":")" + agentId + R"("},
      "command":{"value":"true"},"resources":[{"name":"cpus","type":"SCALAR",
      "scalar":{"value":64}}]}]}},{"type":"RESERVE","id":{"value":"op1"},"reserve":{}}]}})");
  ASSERT_EQ(reply.status, 202) << reply.body;
  auto error = framework.waitFor<Event>(Event::UPDATE);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->update().status().state(), mesos::v1::TASK_ERROR);
  EXPECT_EQ(error->update().status().reason(), mesos::v1::TaskStatus::REASON_TASK_INVALID);
  EXPECT_NE(error->update().status().message().find("more than available"), std::string::npos);
  auto unsupported = framework.waitFor<Event>(Event::UPDATE_OPERATION_STATUS);
  ASSERT_TRUE(unsupported);
  EXPECT_EQ(unsupported->update_operation_status().status().state(), mesos::v1::OPERATION_ERROR);
  EXPECT_NE(unsupported->update_operation_status().status().message().find("not supported"),
            std::string::npos);
}

TEST_F(MasterHttpTest, ErrorsAnswerWithMesosStatusCodes) {
  const std::string path = "/api/v1/scheduler";
  EXPECT_EQ(post(port, path, subscribeJson(), "").status, 400);  // no Content-Type
  EXPECT_EQ(post(port, path, subscribeJson(), "text/plain").status, 415);
  EXPECT_EQ(post(port, path, "{not json", kJson).status, 400);
  EXPECT_EQ(request(port, http::verb::get, path, "", "").status, 405);
  EXPECT_EQ(request(port, http::verb::get, "/nope", "", "").status, 404);
  EXPECT_EQ(post(port, path, std::string(100 * 1024, ' '), kJson).status, 413);
  StreamClient html(port, path, subscribeJson(), kJson, "text/html");
  EXPECT_EQ(html.status, 406);

  StreamClient framework(port, path, subscribeJson(), kJson);
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  std::string fw = R"({"framework_id":{"value":")" +
                   subscribed->subscribed().framework_id().value() + R"("},)";
  auto reply = post(port, path, fw + R"("type":"REVIVE"})", kJson);  // no stream id
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("Mesos-Stream-Id"), std::string::npos);
  EXPECT_EQ(schedulerCall("other", fw + R"("type":"REVIVE"})").status, 400);
  EXPECT_EQ(schedulerCall(framework.streamId, fw + R"("type":"REVIVE"})").status, 202);
  EXPECT_EQ(schedulerCall(framework.streamId, fw + R"("type":"ACCEPT"})").status, 400);
  EXPECT_EQ(schedulerCall(framework.streamId, fw + R"("type":"UNKNOWN"})").status, 501);
  EXPECT_EQ(schedulerCall(framework.streamId,
                          R"({"framework_id":{"value":"nobody"},"type":"REVIVE"})").status, 400);

  framework.hangUp();  // disconnected, not yet failed over (failover_timeout 100 s)
  bool forbidden = false;
  for (int i = 0; i < 50 && !forbidden; ++i) {
    forbidden = schedulerCall(framework.streamId, fw + R"("type":"REVIVE"})").status == 403;
    if (!forbidden) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(forbidden);
}

TEST_F(MasterHttpTest, FailoverClosesTheOldStreamWithAnError) {
  StreamClient first(port, "/api/v1/scheduler", subscribeJson(), kJson);
  auto subscribed = first.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  std::string id = subscribed->subscribed().framework_id().value();
  std::string resubscribe = R"({"type":"SUBSCRIBE","framework_id":{"value":")" + id +
      R"("},"subscribe":{"framework_info":{"user":"tester","name":"again","id":{"value":")" +
      id + R"("}}}})";
  StreamClient second(port, "/api/v1/scheduler", resubscribe, kJson);
  ASSERT_EQ(second.status, 200) << second.errorBody;
  auto error = first.waitFor<Event>(Event::ERROR);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->error().message(), "Framework failed over");
  EXPECT_FALSE(first.next(1s));
  EXPECT_TRUE(first.ended());
  auto again = second.nextEvent<Event>();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->subscribed().framework_id().value(), id);
}

TEST_F(MasterHttpTest, MalformedInputNeverHurtsTheMaster) {
  std::vector<std::string> bodies = {
      "", "null", "[]", "{", "}", R"({"type":"SUBSCRIBE"})", R"({"type":"SUBSCRIBE","subscribe":7})",
      R"({"type":"ACCEPT","framework_id":{"value":"../.."},"accept":{}})",
      R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","roles":["a"]}}})",
      R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"x"}}}})",
      std::string(5000, '[') + std::string(5000, ']'), "\x00\x01\x02\xff", R"({"type":1e999})",
      R"({"type":"REGISTER","register":{"agent_info":{"hostname":"h","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]}}})"};
  std::mt19937 rng(42);
  for (int i = 0; i < 100; ++i) {
    std::string random(rng() % 300, '\0');
    for (auto& c : random) c = static_cast<char>(rng());
    bodies.push_back(random);
  }
  for (const auto& path : {"/api/v1/scheduler", "/api/v1/nucleo/agent"}) {
    for (const auto& type : {kJson, kProtobuf}) {
      for (const auto& body : bodies) {
        auto reply = post(port, path, body, type);
        EXPECT_GE(reply.status, 400) << path << " " << type << " " << body.substr(0, 80);
        EXPECT_LT(reply.status, 600);
      }
    }
  }
  // Garbage that is not HTTP, and a client that goes away mid-request.
  for (const char* raw : {"GARBAGE\r\n\r\n", "POST /api/v1/scheduler HTTP/1.1\r\nContent-Length: 10\r\n\r\nab"}) {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(socket, asio::buffer(std::string(raw)));
  }
  EXPECT_EQ(request(port, http::verb::get, "/health", "", "").status, 200);
}

TEST_F(MasterHttpTest, OperatorApiInJsonAndProtobuf) {
  std::string agentId;
  auto agent = registerAgent(&agentId);
  auto reply = post(port, "/api/v1", R"({"type":"GET_AGENTS"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.contentType, kJson);
  mesos::v1::master::Response response;
  ASSERT_TRUE(proto::fromJson(reply.body, &response));
  EXPECT_EQ(response.type(), mesos::v1::master::Response::GET_AGENTS);
  ASSERT_EQ(response.get_agents().agents_size(), 1);
  EXPECT_EQ(response.get_agents().agents(0).agent_info().hostname(), "sim-agent");

  mesos::v1::master::Call call;
  call.set_type(mesos::v1::master::Call::GET_HEALTH);
  reply = post(port, "/api/v1", call.SerializeAsString(), kProtobuf, {{"Accept", kProtobuf}});
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.contentType, kProtobuf);
  ASSERT_TRUE(response.ParseFromString(reply.body));
  EXPECT_TRUE(response.get_health().healthy());
  EXPECT_EQ(post(port, "/api/v1", R"({"type":"GET_ROLES"})").status, 200);
  EXPECT_EQ(post(port, "/api/v1", R"({"type":"GET_QUOTA"})").status, 501);
  EXPECT_EQ(post(port, "/api/v1", R"({"type":"TEARDOWN"})").status, 400);  // no framework_id
  reply = post(port, "/api/v1", R"({"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":")" +
                                    agentId + R"("}}})");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(post(port, "/api/v1", R"({"type":"GET_STATE"})", kJson, {{"Accept", "text/html"}}).status, 406);
}

TEST(MasterHttpAuth, CredentialsAreRequiredAndMatchThePrincipal) {
  MasterOptions options;
  options.port = 0;
  options.credentials = {{"alice", "secret"}};
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error().message;
  uint16_t port = (*server)->port();
  std::string body = subscribeJson(R"(,"principal":"alice")");
  EXPECT_EQ(post(port, "/api/v1/scheduler", body).status, 401);
  // "alice:wrong" and "alice:secret" in base64
  EXPECT_EQ(post(port, "/api/v1/scheduler", body, kJson, {{"Authorization", "Basic YWxpY2U6d3Jvbmc="}}).status, 401);
  StreamClient ok(port, "/api/v1/scheduler", body, kJson);
  EXPECT_EQ(ok.status, 401);
  EXPECT_EQ(request(port, http::verb::get, "/health", "", "").status, 200);
  auto mismatch = post(port, "/api/v1/scheduler", subscribeJson(R"(,"principal":"bob")"), kJson,
                       {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}});
  EXPECT_EQ(mismatch.status, 403) << mismatch.body;
}

TEST_F(MasterHttpTest, OperatorSubscribeStreamsEventsOnePerChunk) {
  using OperatorEvent = mesos::v1::master::Event;
  StreamClient ops(port, "/api/v1", R"({"type":"SUBSCRIBE"})", kJson);
  ASSERT_EQ(ops.status, 200) << ops.errorBody;
  auto subscribed = ops.nextEvent<OperatorEvent>();
  ASSERT_TRUE(subscribed);
  ASSERT_EQ(subscribed->type(), OperatorEvent::SUBSCRIBED);
  EXPECT_DOUBLE_EQ(subscribed->subscribed().heartbeat_interval_seconds(), 0.3);
  EXPECT_TRUE(subscribed->subscribed().has_get_state());

  std::string agentId;
  auto agent = registerAgent(&agentId);
  auto added = ops.waitFor<OperatorEvent>(OperatorEvent::AGENT_ADDED);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->agent_added().agent().agent_info().id().value(), agentId);
  StreamClient framework(port, "/api/v1/scheduler", subscribeJson(), kJson);
  ASSERT_EQ(framework.status, 200);
  auto frameworkAdded = ops.waitFor<OperatorEvent>(OperatorEvent::FRAMEWORK_ADDED);
  ASSERT_TRUE(frameworkAdded);
  EXPECT_EQ(frameworkAdded->framework_added().framework().framework_info().name(), "http test");
  EXPECT_TRUE(ops.waitFor<OperatorEvent>(OperatorEvent::HEARTBEAT, 2s));
  framework.hangUp();  // disconnected: FRAMEWORK_UPDATED
  EXPECT_TRUE(ops.waitFor<OperatorEvent>(OperatorEvent::FRAMEWORK_UPDATED));

  // The same stream in protobuf.
  mesos::v1::master::Call call;
  call.set_type(mesos::v1::master::Call::SUBSCRIBE);
  StreamClient pb(port, "/api/v1", call.SerializeAsString(), kProtobuf, kProtobuf);
  ASSERT_EQ(pb.status, 200);
  auto first = pb.nextEvent<OperatorEvent>();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type(), OperatorEvent::SUBSCRIBED);
  EXPECT_EQ(first->subscribed().get_state().get_agents().agents_size(), 1);
  EXPECT_FALSE(ops.chunkMismatch);
  EXPECT_FALSE(pb.chunkMismatch);
}

TEST_F(MasterHttpTest, UpdateFrameworkAndDrainAgentInJson) {
  std::string agentId;
  auto agent = registerAgent(&agentId);
  StreamClient framework(port, "/api/v1/scheduler", subscribeJson(), kJson);
  ASSERT_EQ(framework.status, 200);
  auto subscribed = framework.nextEvent<Event>();
  ASSERT_TRUE(subscribed);
  std::string frameworkId = subscribed->subscribed().framework_id().value();
  std::string update = R"({"type":"UPDATE_FRAMEWORK","framework_id":{"value":")" + frameworkId +
                       R"("},"update_framework":{"framework_info":{"id":{"value":")" + frameworkId +
                       R"("},"user":"tester","name":"renamed","failover_timeout":100,
                       "capabilities":[{"type":"MULTI_ROLE"}],"roles":["web"]}}})";
  auto reply = schedulerCall(framework.streamId, update);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto offers = framework.waitFor<Event>(Event::OFFERS);
  ASSERT_TRUE(offers);
  EXPECT_EQ(offers->offers().offers(0).allocation_info().role(), "web");
  reply = post(port, "/api/v1", R"({"type":"GET_FRAMEWORKS"})");
  EXPECT_NE(reply.body.find("\"renamed\""), std::string::npos) << reply.body;

  reply = post(port, "/api/v1", R"({"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":")" +
                                    agentId + R"("},"max_grace_period":{"nanoseconds":1000000000}}})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_TRUE(framework.waitFor<Event>(Event::RESCIND));
  // No tasks: DRAINED at the master's next tick.
  for (int i = 0; i < 40; ++i) {
    reply = post(port, "/api/v1", R"({"type":"GET_AGENTS"})");
    if (reply.body.find("\"DRAINED\"") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(reply.body.find("\"drain_info\""), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("\"DRAINED\""), std::string::npos) << reply.body;
  reply = post(port, "/api/v1", R"({"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"web","weight":2}]}})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  reply = post(port, "/api/v1", R"({"type":"GET_WEIGHTS"})");
  EXPECT_NE(reply.body.find("\"web\""), std::string::npos) << reply.body;
}

}  // namespace
}  // namespace nucleo::master
