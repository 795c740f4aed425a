#include "agent/health/health_checker.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace nucleo::agent {
namespace {

using mesos::v1::HealthCheck;
using namespace std::chrono_literals;

HealthCheck tcpCheck(uint32_t port = 8080) {
  HealthCheck check;
  check.set_type(HealthCheck::TCP);
  check.mutable_tcp()->set_port(port);
  return check;
}

TEST(ValidateHealthCheck, AcceptsEachType) {
  EXPECT_TRUE(validateHealthCheck(tcpCheck()));
  HealthCheck http;
  http.set_type(HealthCheck::HTTP);
  http.mutable_http()->set_port(80);
  http.mutable_http()->set_path("/health");
  http.mutable_http()->set_scheme("https");
  http.mutable_http()->add_statuses(204);
  EXPECT_TRUE(validateHealthCheck(http));
  HealthCheck command;
  command.set_type(HealthCheck::COMMAND);
  command.mutable_command()->set_value("test -f /tmp/ready");
  EXPECT_TRUE(validateHealthCheck(command));
}

TEST(ValidateHealthCheck, ErrorsNameTheField) {
  struct Case {
    std::function<void(HealthCheck&)> change;
    const char* field;
  } cases[] = {
      {[](HealthCheck& c) { c.clear_type(); }, "health_check.type"},
      {[](HealthCheck& c) { c.set_type(HealthCheck::COMMAND); }, "health_check.command"},
      {[](HealthCheck& c) {
         c.set_type(HealthCheck::COMMAND);
         c.mutable_command();
       },
       "health_check.command.value"},
      {[](HealthCheck& c) { c.set_type(HealthCheck::HTTP); }, "health_check.http"},
      {[](HealthCheck& c) {
         c.set_type(HealthCheck::HTTP);
         c.mutable_http()->set_port(0);
       },
       "health_check.http.port"},
      {[](HealthCheck& c) {
         c.set_type(HealthCheck::HTTP);
         c.mutable_http()->set_port(80);
         c.mutable_http()->set_scheme("ftp");
       },
       "health_check.http.scheme"},
      {[](HealthCheck& c) {
         c.set_type(HealthCheck::HTTP);
         c.mutable_http()->set_port(80);
         c.mutable_http()->set_path("health");
       },
       "health_check.http.path"},
      {[](HealthCheck& c) {
         c.set_type(HealthCheck::HTTP);
         c.mutable_http()->set_port(80);
         c.mutable_http()->add_statuses(42);
       },
       "health_check.http.statuses"},
      {[](HealthCheck& c) { c.mutable_tcp()->set_port(70000); }, "health_check.tcp.port"},
      {[](HealthCheck& c) { c.mutable_tcp()->clear_port(); }, "health_check.tcp.port"},
      {[](HealthCheck& c) { c.set_delay_seconds(-1); }, "health_check.delay_seconds"},
      {[](HealthCheck& c) { c.set_timeout_seconds(NAN); }, "health_check.timeout_seconds"},
      {[](HealthCheck& c) { c.set_interval_seconds(0); }, "health_check.interval_seconds"},
      {[](HealthCheck& c) { c.set_grace_period_seconds(-0.5); }, "health_check.grace_period_seconds"},
  };
  for (const auto& c : cases) {
    HealthCheck check = tcpCheck();
    c.change(check);
    auto s = validateHealthCheck(check);
    ASSERT_FALSE(s) << c.field;
    EXPECT_EQ(s.error().message.rfind(c.field, 0), 0u) << c.field << ": " << s.error().message;
  }
}

class HealthStateTest : public ::testing::Test {
 protected:
  SteadyTime at(double seconds) {
    return t0_ + std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(seconds));
  }
  SteadyTime t0_ = SteadyTime{} + 1000h;
};

TEST_F(HealthStateTest, MesosDefaultsSchedule) {
  HealthCheckState state(tcpCheck(), t0_);  // delay 15 s, interval 10 s, timeout 20 s
  EXPECT_EQ(state.nextProbeAt(), at(15));
  EXPECT_EQ(state.probeTimeout(), 20s);
  auto v = state.record(true, at(15.2));
  EXPECT_EQ(v.healthyChanged, std::optional<bool>(true));  // the first result is reported
  EXPECT_EQ(state.nextProbeAt(), at(25.2));
  v = state.record(true, at(25.2));
  EXPECT_FALSE(v.healthyChanged.has_value());  // unchanged: no update
}

TEST_F(HealthStateTest, GracePeriodThenConsecutiveFailuresKill) {
  HealthCheck check = tcpCheck();
  check.set_delay_seconds(0);
  check.set_interval_seconds(1);
  check.set_grace_period_seconds(10);
  check.set_consecutive_failures(3);
  HealthCheckState state(check, t0_);
  for (double t : {0.0, 5.0, 10.0}) {
    auto v = state.record(false, at(t));
    EXPECT_FALSE(v.healthyChanged.has_value()) << t;  // ignored inside the grace period
    EXPECT_FALSE(v.killTask) << t;
  }
  EXPECT_EQ(state.consecutiveFailures(), 0u);
  auto v = state.record(false, at(11));
  EXPECT_EQ(v.healthyChanged, std::optional<bool>(false));
  EXPECT_FALSE(v.killTask);
  v = state.record(false, at(12));
  EXPECT_FALSE(v.healthyChanged.has_value());
  EXPECT_FALSE(v.killTask);
  v = state.record(false, at(13));
  EXPECT_TRUE(v.killTask);
  EXPECT_EQ(state.consecutiveFailures(), 3u);
  v = state.record(true, at(14));
  EXPECT_EQ(v.healthyChanged, std::optional<bool>(true));
  EXPECT_FALSE(v.killTask);
  EXPECT_EQ(state.consecutiveFailures(), 0u);
}

TEST_F(HealthStateTest, GraceEndsAtTheFirstSuccess) {
  HealthCheck check = tcpCheck();
  check.set_grace_period_seconds(60);
  check.set_consecutive_failures(2);
  HealthCheckState state(check, t0_);
  EXPECT_EQ(state.record(true, at(15)).healthyChanged, std::optional<bool>(true));
  // Healthy once: failures count even inside the grace period.
  auto v = state.record(false, at(25));
  EXPECT_EQ(v.healthyChanged, std::optional<bool>(false));
  EXPECT_FALSE(v.killTask);
  v = state.record(false, at(35));
  EXPECT_FALSE(v.healthyChanged.has_value());
  EXPECT_TRUE(v.killTask);
  EXPECT_EQ(state.nextProbeAt(), at(45));
}

TEST_F(HealthStateTest, ZeroGraceCountsTheFirstFailure) {
  HealthCheck check = tcpCheck();
  check.set_grace_period_seconds(0);
  check.set_consecutive_failures(1);
  HealthCheckState state(check, t0_);
  auto v = state.record(false, at(15));
  EXPECT_EQ(v.healthyChanged, std::optional<bool>(false));
  EXPECT_TRUE(v.killTask);
}

}  // namespace
}  // namespace nucleo::agent
