#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/fetcher/tests/test_http_server.hpp"
#include "agent/health/health_checker.hpp"
#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::CommandInfo;
using mesos::v1::HealthCheck;
using nucleo::testing::TestHttpServer;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HealthCheck::HTTPCheckInfo httpInfo(uint16_t port, const std::string& path) {
  HealthCheck::HTTPCheckInfo http;
  http.set_port(port);
  http.set_path(path);
  return http;
}

bool contains(const Status& s, const std::string& text) {
  return !s && s.error().message.find(text) != std::string::npos;
}

// A port nothing listens on (bound, then closed).
uint16_t closedPort() {
  TestHttpServer server;
  return server.port();
}

TEST(ProbeHttp, StatusDecidesSuccess) {
  TestHttpServer server;
  server.route("/health", {200, "ok", {}, {}, false});
  server.route("/moved", {302, "", {{"Location", "/elsewhere"}}, {}, false});
  server.route("/down", {503, "down", {}, {}, false});
  EXPECT_TRUE(probeHttp("127.0.0.1", httpInfo(server.port(), "/health"), 2s));
  EXPECT_EQ(server.hits("/health"), 1);
  EXPECT_TRUE(probeHttp("127.0.0.1", httpInfo(server.port(), "/moved"), 2s));  // 3xx is healthy
  auto s = probeHttp("127.0.0.1", httpInfo(server.port(), "/down"), 2s);
  EXPECT_TRUE(contains(s, "HTTP health check http://127.0.0.1:" + std::to_string(server.port()) +
                              "/down: status 503"))
      << s.error().message;
  auto only503 = httpInfo(server.port(), "/down");
  only503.add_statuses(503);
  EXPECT_TRUE(probeHttp("127.0.0.1", only503, 2s));
  auto only204 = httpInfo(server.port(), "/health");
  only204.add_statuses(204);
  EXPECT_TRUE(contains(probeHttp("127.0.0.1", only204, 2s), "status 200"));
  EXPECT_TRUE(contains(probeHttp("127.0.0.1", httpInfo(server.port(), ""), 2s), "status 404"));
  EXPECT_EQ(server.hits("/"), 1);  // no path: "/"
}

TEST(ProbeHttp, TimeoutsAndRefusals) {
  TestHttpServer server;
  server.route("/slow", {200, "late", {}, 3s, false});
  auto start = Clock::now();
  auto s = probeHttp("127.0.0.1", httpInfo(server.port(), "/slow"), 300ms);
  EXPECT_TRUE(contains(s, "timed out")) << s.error().message;
  EXPECT_LT(Clock::now() - start, 1500ms);
  s = probeHttp("127.0.0.1", httpInfo(closedPort(), "/"), 1s);
  EXPECT_TRUE(contains(s, "Connection refused")) << s.error().message;
  s = probeHttp("not-an-ip", httpInfo(80, "/"), 1s);
  EXPECT_TRUE(contains(s, "'not-an-ip' is not an IP address")) << s.error().message;
}

TEST(ProbeHttp, HttpsWithoutVerification) {
  char tmpl[] = "/tmp/health_tls_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
                    dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    (void)fs::removeAll(dir);
    GTEST_SKIP() << "openssl cannot make a test certificate";
  }
  TestHttpServer server;
  ASSERT_TRUE(server.enableTls(dir + "/cert.pem", dir + "/key.pem"));
  server.route("/tls", {200, "ok", {}, {}, false});
  auto info = httpInfo(server.port(), "/tls");
  info.set_scheme("https");
  auto s = probeHttp("127.0.0.1", info, 3s);
  (void)fs::removeAll(dir);
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_EQ(server.hits("/tls"), 1);
}

TEST(ProbeTcp, ConnectsRefusesAndTimesOut) {
  TestHttpServer server;
  EXPECT_TRUE(probeTcp("127.0.0.1", server.port(), 1s));
  auto s = probeTcp("127.0.0.1", closedPort(), 1s);
  EXPECT_TRUE(contains(s, "TCP health check: connect 127.0.0.1:")) << s.error().message;
  EXPECT_TRUE(contains(s, "Connection refused")) << s.error().message;

  // A listener whose accept queue is full drops further SYNs: the probe
  // must give up at its timeout.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
    fillers.push_back(fd);
  }
  ::usleep(100000);
  auto start = Clock::now();
  s = probeTcp("127.0.0.1", ntohs(addr.sin_port), 300ms);
  auto took = Clock::now() - start;
  for (int fd : fillers) ::close(fd);
  ::close(listener);
  EXPECT_TRUE(contains(s, "timed out after 300 ms")) << (s ? "connected" : s.error().message);
  EXPECT_LT(took, 1s);
}

CommandInfo shell(const std::string& value) {
  CommandInfo c;
  c.set_value(value);
  return c;
}

TEST(ProbeCommand, ExitStatusAndTimeout) {
  EXPECT_TRUE(probeCommand(shell("true"), runHostCommand, 2s));
  auto s = probeCommand(shell("exit 2"), runHostCommand, 2s);
  EXPECT_TRUE(contains(s, "command health check 'exit 2': exited with status 2")) << s.error().message;
  auto start = Clock::now();
  s = probeCommand(shell("sleep 5; true"), runHostCommand, 200ms);
  EXPECT_TRUE(contains(s, "timed out after 200 ms")) << s.error().message;
  EXPECT_LT(Clock::now() - start, 2s);

  CommandInfo env = shell("test \"$PROBE_VAR\" = yes");
  auto* var = env.mutable_environment()->add_variables();
  var->set_name("PROBE_VAR");
  var->set_value("yes");
  EXPECT_TRUE(probeCommand(env, runHostCommand, 2s));

  CommandInfo argv;
  argv.set_shell(false);
  argv.set_value("sh");
  for (const char* a : {"sh", "-c", "exit 4"}) argv.add_arguments(a);
  EXPECT_EQ(runHostCommand(argv, 2s).value(), 4);
  CommandInfo missing;
  missing.set_shell(false);
  missing.set_value("/no/such/program");
  EXPECT_FALSE(runHostCommand(missing, 2s));

  auto failingRunner = [](const CommandInfo&, std::chrono::milliseconds) -> Result<int> {
    return Error::make("container gone");
  };
  s = probeCommand(shell("true"), failingRunner, 1s);
  EXPECT_TRUE(contains(s, "command health check 'true': container gone")) << s.error().message;
}

TEST(RunProbe, DispatchesOnTheType) {
  TestHttpServer server;
  server.route("/ok", {200, "ok", {}, {}, false});
  HealthCheck check;
  check.set_timeout_seconds(2);
  check.set_type(HealthCheck::HTTP);
  *check.mutable_http() = httpInfo(server.port(), "/ok");
  EXPECT_TRUE(runProbe(check, "127.0.0.1", runHostCommand));
  EXPECT_EQ(server.hits("/ok"), 1);
  check.set_type(HealthCheck::TCP);
  check.mutable_tcp()->set_port(closedPort());
  EXPECT_TRUE(contains(runProbe(check, "127.0.0.1", runHostCommand), "Connection refused"));
  check.set_type(HealthCheck::COMMAND);
  check.mutable_command()->set_value("sleep 2");
  check.set_timeout_seconds(0.1);
  EXPECT_TRUE(contains(runProbe(check, "127.0.0.1", runHostCommand), "timed out after 100 ms"));
  check.clear_type();
  EXPECT_FALSE(runProbe(check, "127.0.0.1", runHostCommand));
}

}  // namespace
}  // namespace nucleo::agent
