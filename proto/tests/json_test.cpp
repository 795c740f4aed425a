// The Mesos JSON dialect through nucleo::proto: bodies as Mesos clients write
// them parse, and what the master writes is what Mesos clients read.

#include <cmath>

#include <gtest/gtest.h>

#include "mesos/v1/scheduler/scheduler.pb.h"
#include "nucleo/agent.pb.h"
#include "proto/json.hpp"

namespace {

using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

TEST(MesosJson, SubscribeAsClientsWriteIt) {
  // Unset fields as null and keys this master does not know, as some
  // clients send them.
  const char* body = R"({
    "type": "SUBSCRIBE",
    "framework_id": null,
    "subscribe": {
      "framework_info": {
        "user": "foo", "name": "Example HTTP Framework",
        "roles": ["test"], "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": "604800", "checkpoint": true,
        "webui_url": null, "some_future_field": {"x": 1}
      }
    }
  })";
  Call call;
  ASSERT_TRUE(nucleo::proto::fromJson(body, &call));
  EXPECT_EQ(call.type(), Call::SUBSCRIBE);
  EXPECT_FALSE(call.has_framework_id());
  const auto& info = call.subscribe().framework_info();
  EXPECT_EQ(info.user(), "foo");
  EXPECT_EQ(info.roles(0), "test");
  EXPECT_EQ(info.capabilities(0).type(),
            mesos::v1::FrameworkInfo::Capability::MULTI_ROLE);
  EXPECT_DOUBLE_EQ(info.failover_timeout(), 604800.0);
  EXPECT_TRUE(info.checkpoint());
  EXPECT_FALSE(info.has_webui_url());
}

TEST(MesosJson, AcceptWithLaunch) {
  const char* body = R"({
    "framework_id": {"value": "12220-3440-12532-2345"},
    "type": "ACCEPT",
    "accept": {
      "offer_ids": [{"value": "12220-3440-12532-O12"}],
      "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{
        "name": "My Task", "task_id": {"value": "t1"},
        "agent_id": {"value": "12220-3440-12532-S1233"},
        "command": {"shell": true, "value": "sleep 1000"},
        "resources": [
          {"name": "cpus", "role": "*", "type": "SCALAR", "scalar": {"value": 1.0}},
          {"name": "ports", "type": "RANGES",
           "ranges": {"range": [{"begin": 31000, "end": "31001"}]}}],
        "limits": {"cpus": {"value": "Infinity"}}
      }]}}],
      "filters": {"refuse_seconds": 5.0}
    }
  })";
  Call call;
  ASSERT_TRUE(nucleo::proto::fromJson(body, &call));
  ASSERT_EQ(call.accept().operations_size(), 1);
  const auto& task = call.accept().operations(0).launch().task_infos(0);
  EXPECT_EQ(task.task_id().value(), "t1");
  EXPECT_EQ(task.resources(1).ranges().range(0).end(), 31001u);
  EXPECT_TRUE(std::isinf(task.limits().at("cpus").value()));
  EXPECT_DOUBLE_EQ(call.accept().filters().refuse_seconds(), 5.0);
}

TEST(MesosJson, UnknownEnumNameInOptionalFieldIsUnset) {
  Call call;
  ASSERT_TRUE(nucleo::proto::fromJson(R"({"type": "NOT_A_CALL"})", &call));
  EXPECT_FALSE(call.has_type());
}

TEST(MesosJson, FiltersDefaultRefuseSecondsIsFive) {
  Call call;
  ASSERT_TRUE(nucleo::proto::fromJson(
      R"({"type":"DECLINE","decline":{"offer_ids":[{"value":"o"}]}})", &call));
  EXPECT_DOUBLE_EQ(call.decline().filters().refuse_seconds(), 5.0);
}

TEST(MesosJson, AcknowledgeUuidIsBase64) {
  Call call;
  ASSERT_TRUE(nucleo::proto::fromJson(
      R"({"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},
          "task_id":{"value":"t"},"uuid":"AAECAwQFBgcICQoLDA0ODw=="}})",
      &call));
  ASSERT_EQ(call.acknowledge().uuid().size(), 16u);
  EXPECT_EQ(call.acknowledge().uuid()[15], '\x0f');
}

TEST(MesosJson, MalformedBodiesAreErrorsNotCrashes) {
  Call call;
  for (const char* body :
       {"", "{", "[]", "null", R"({"type": 3.5})", R"({"subscribe": "x"})",
        R"({"accept": {"offer_ids": {"value": 1}}})", "\xff\xfe"}) {
    auto status = nucleo::proto::fromJson(body, &call);
    EXPECT_FALSE(status) << body;
    if (!status) {
      EXPECT_FALSE(status.error().message.empty());
    }
  }
}

TEST(MesosJson, OffersEventAsMesosWritesIt) {
  Event event;
  event.set_type(Event::OFFERS);
  auto* offer = event.mutable_offers()->add_offers();
  offer->mutable_id()->set_value("o1");
  offer->mutable_framework_id()->set_value("f1");
  offer->mutable_agent_id()->set_value("a1");
  offer->set_hostname("host");
  offer->mutable_url()->set_scheme("http");
  offer->mutable_url()->mutable_address()->set_ip("127.0.0.1");
  offer->mutable_url()->mutable_address()->set_port(5051);
  auto* cpus = offer->add_resources();
  cpus->set_name("cpus");
  cpus->set_type(mesos::v1::Value::SCALAR);
  cpus->mutable_scalar()->set_value(2);
  std::string json = nucleo::proto::toJson(event);
  EXPECT_NE(json.find(R"("type":"OFFERS")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("offers":{"offers":[{"id":{"value":"o1"})"),
            std::string::npos) << json;
  EXPECT_NE(json.find(R"("framework_id":{"value":"f1"})"), std::string::npos);
  EXPECT_NE(json.find(R"("type":"SCALAR")"), std::string::npos);
  EXPECT_EQ(json.find('\n'), std::string::npos);  // compact: one RecordIO record

  Event back;
  ASSERT_TRUE(nucleo::proto::fromJson(json, &back));
  EXPECT_EQ(back.SerializeAsString(), event.SerializeAsString());
}

TEST(MesosJson, NonAsciiIsEscaped) {
  Event event;
  event.set_type(Event::ERROR);
  event.mutable_error()->set_message("caf\xc3\xa9");
  std::string json = nucleo::proto::toJson(event);
  EXPECT_NE(json.find(R"("error":{"message":"caf\u00e9"})"), std::string::npos)
      << json;
}

TEST(MesosJson, Int64IsWrittenAsStringAndReadBack) {
  mesos::v1::TimeInfo time;
  time.set_nanoseconds(1234567890123LL);
  std::string json = nucleo::proto::toJson(time);
  EXPECT_EQ(json, R"({"nanoseconds":"1234567890123"})");
  mesos::v1::TimeInfo back;
  ASSERT_TRUE(nucleo::proto::fromJson(R"({"nanoseconds": 1234567890123})", &back));
  EXPECT_EQ(back.nanoseconds(), 1234567890123LL);
}

TEST(MesosJson, BinaryRoundTripOfAgentProtocol) {
  nucleo::agent::Call call;
  call.set_type(nucleo::agent::Call::REGISTER);
  call.mutable_register_()->mutable_agent_info()->set_hostname("node1");
  std::string wire = call.SerializeAsString();
  nucleo::agent::Call back;
  ASSERT_TRUE(nucleo::proto::fromBinary(wire, &back));
  EXPECT_EQ(back.register_().agent_info().hostname(), "node1");
  EXPECT_FALSE(nucleo::proto::fromBinary("\xff\xff\xff", &back));
}

}  // namespace
