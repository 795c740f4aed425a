// POST /api/v1 on a real AgentDaemon (no master, no tasks, no root): the files
// calls' errors and GET_FLAGS, in JSON and protobuf, over plain sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "agent/daemon.hpp"
#include "base/fs.hpp"
#include "mesos/v1/agent/agent.pb.h"

namespace nucleo::agent {
namespace {

struct Reply {
  int status = -1;
  std::string body;
};

// One HTTP/1.1 request with Connection: close; the reply read to EOF.
Reply post(uint16_t port, const std::string& body, const std::string& type, const std::string& accept) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Reply reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return reply;
  }
  std::string request = fmt::format(
      "POST /api/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {}\r\nAccept: {}\r\n"
      "Connection: close\r\nContent-Length: {}\r\n\r\n{}", type, accept, body.size(), body);
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return reply;
  }
  std::string raw;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) raw.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return reply;
  reply.status = std::atoi(raw.c_str() + 9);
  reply.body = raw.substr(end + 4);
  return reply;
}

class OperatorHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/operator-http-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    AgentOptions o;
    o.masterHost = "127.0.0.1";
    o.masterPort = 1;  // nothing there: the agent keeps retrying, the API still answers
    o.port = 0;
    o.workDir = dir_ + "/work";
    o.networkState = dir_ + "/net";
    o.resources = "cpus:1;mem:256;disk:100;ports:[31000-31001]";
    o.isolation = "cgroups/cpu,namespaces/pid,filesystem/posix";
    auto daemon = AgentDaemon::create(o);
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
    thread_ = std::thread([this] { daemon_->run(); });
  }
  void TearDown() override {
    if (daemon_) daemon_->stop();
    if (thread_.joinable()) thread_.join();
    daemon_.reset();
    (void)fs::removeAll(dir_);
  }
  Reply json(const std::string& body) {
    return post(daemon_->port(), body, "application/json", "application/json");
  }

  std::string dir_;
  std::unique_ptr<AgentDaemon> daemon_;
  std::thread thread_;
};

TEST_F(OperatorHttpTest, FilesCallsAnswer404And400) {
  auto unknown = json(R"({"type":"LIST_FILES","list_files":{"path":"/frameworks/F/executors/E/runs/latest"}})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto escape = json(R"({"type":"READ_FILE","read_file":{"path":"/etc/passwd","offset":0}})");
  EXPECT_EQ(escape.status, 404) << "only sandboxes are visible: " << escape.body;
  auto noOffset = json(R"({"type":"READ_FILE","read_file":{"path":"/x"}})");
  EXPECT_EQ(noOffset.status, 400) << noOffset.body;
  EXPECT_NE(noOffset.body.find("read_file.offset"), std::string::npos) << noOffset.body;
  EXPECT_EQ(json(R"({"type":"LIST_FILES"})").status, 400);
  EXPECT_EQ(json(R"({"type":"ATTACH_CONTAINER_OUTPUT"})").status, 501);
}

TEST_F(OperatorHttpTest, GetFlagsReportsTheActiveIsolatorsInJsonAndProtobuf) {
  auto reply = json(R"({"type":"GET_FLAGS"})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_NE(reply.body.find(R"("name":"isolation","value":"cgroups/cpu,namespaces/pid,filesystem/posix")"),
            std::string::npos) << reply.body;
  mesos::v1::agent::Call call;
  call.set_type(mesos::v1::agent::Call::GET_FLAGS);
  auto binary = post(daemon_->port(), call.SerializeAsString(), "application/x-protobuf", "application/x-protobuf");
  ASSERT_EQ(binary.status, 200);
  mesos::v1::agent::Response response;
  ASSERT_TRUE(response.ParseFromString(binary.body));
  EXPECT_EQ(response.type(), mesos::v1::agent::Response::GET_FLAGS);
  bool found = false;
  for (const auto& f : response.get_flags().flags())
    found = found || (f.name() == "isolation" && f.value() == "cgroups/cpu,namespaces/pid,filesystem/posix");
  EXPECT_TRUE(found) << response.DebugString();
}

}  // namespace
}  // namespace nucleo::agent
