// The master's HTTP front under hostile or heavy use: trickling and idle
// clients, a connection cap, a scheduler that never reads its stream, and
// TLS with a certificate made for the test.

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "base/fs.hpp"
#include "master/tests/http_client.hpp"

namespace nucleo::master {
namespace {

using namespace http_test;
namespace ssl = asio::ssl;

// Resident set size of this process (server and clients), from /proc.
long rssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

TEST(MasterHttpLimits, IdleAndSlowClientsAreCutOff) {
  MasterOptions options;
  options.port = 0;
  options.requestTimeout = 300ms;
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error().message;
  uint16_t port = (*server)->port();
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(ioc));
    idle.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  tcp::socket slow(ioc);
  slow.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string head = "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
  beast::error_code ec;
  auto start = std::chrono::steady_clock::now();
  for (char c : head + std::string(100, ' ')) {  // a byte every 20 ms: 2.6 s in all
    asio::write(slow, asio::buffer(&c, 1), ec);
    if (ec) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ec) << "the server kept a trickling client";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(request(port, http::verb::get, "/health", "", "").status, 200);
  // The idle connections were closed too.
  int closed = 0;
  for (auto& socket : idle) {
    char byte;
    socket->read_some(asio::buffer(&byte, 1), ec);
    closed += ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  EXPECT_EQ(closed, 200);
}

TEST(MasterHttpLimits, ConnectionsBeyondTheCapAreClosedAndTheMasterServesOn) {
  MasterOptions options;
  options.port = 0;
  options.maxConnections = 100;
  options.requestTimeout = 500ms;
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error().message;
  uint16_t port = (*server)->port();
  // Thousands of sockets in this process: as many as the fd limit allows.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  ::getrlimit(RLIMIT_NOFILE, &files);
  const int count = static_cast<int>(std::min<rlim_t>(2000, files.rlim_cur - 300));
  if (count < 500) GTEST_SKIP() << "RLIMIT_NOFILE " << files.rlim_cur << " is too low";
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < count; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(ioc));
    beast::error_code ec;
    idle.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  }
  // Beyond the cap the master closes at once; the rest time out; then a
  // new client is served.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(request(port, http::verb::get, "/health", "", "").status, 200);
  int closed = 0;
  for (auto& socket : idle) {
    char byte;
    beast::error_code ec;
    socket->read_some(asio::buffer(&byte, 1), ec);
    closed += ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  EXPECT_EQ(closed, count);
}

TEST(MasterHttpLimits, SchedulerThatNeverReadsIsDisconnectedWithoutMemoryGrowth) {
  MasterOptions options;
  options.port = 0;
  options.maxQueuedEvents = 1000;
  options.requestTimeout = 2s;
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error().message;
  uint16_t port = (*server)->port();
  // A subscriber with a tiny receive window that reads nothing after the
  // response head.
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.open(tcp::v4());
  socket.set_option(asio::socket_base::receive_buffer_size(4096));
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::post, "/api/v1/scheduler", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, kJson);
  req.body() = subscribeJson();
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> head;
  head.body_limit(boost::none);
  http::read_header(socket, buffer, head);
  ASSERT_EQ(head.get().result_int(), 200u);
  std::string streamId(head.get()["Mesos-Stream-Id"]);
  // Its framework id, from the first record already in the buffer or socket.
  std::string seen(static_cast<const char*>(buffer.data().data()), buffer.size());
  while (seen.find("framework_id") == std::string::npos || seen.find("}}") == std::string::npos) {
    char chunk[512];
    size_t n = socket.read_some(asio::buffer(chunk));
    seen.append(chunk, n);
  }
  auto at = seen.find("\"value\":\"", seen.find("framework_id")) + 9;
  std::string frameworkId = seen.substr(at, seen.find('"', at) - at);

  // Each explicit reconciliation of 200 unknown tasks queues 200 UPDATEs: the
  // socket buffers fill, then the queue or the write timeout ends the stream.
  std::string tasks;
  for (int i = 0; i < 200; ++i)
    tasks += std::string(i ? "," : "") + R"({"task_id":{"value":"task-)" + std::to_string(i) + R"("}})";
  std::string reconcile = R"({"framework_id":{"value":")" + frameworkId +
                          R"("},"type":"RECONCILE","reconcile":{"tasks":[)" + tasks + "]}}";
  long before = rssKiB();
  int accepted = 0, refused = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (refused == 0 && std::chrono::steady_clock::now() < deadline) {
    auto reply = post(port, "/api/v1/scheduler", reconcile, kJson, {{"Mesos-Stream-Id", streamId}});
    if (reply.status == 202) ++accepted;
    else refused = reply.status;
  }
  EXPECT_EQ(refused, 403) << "the master kept a framework that does not read";
  EXPECT_GT(accepted, 0);
  long after = rssKiB();
  std::printf("non-reading scheduler: %d calls accepted (%d UPDATEs) before 403; RSS %ld -> %ld KiB\n",
              accepted, accepted * 200, before, after);
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine keeps freed memory resident
  EXPECT_LT(after - before, 64 * 1024) << "RSS grew from " << before << " KiB to " << after;
#endif
  EXPECT_EQ(request(port, http::verb::get, "/health", "", "").status, 200);
}

// Makes a self-signed certificate for 127.0.0.1 with the openssl CLI.
bool makeCertificate(const std::string& dir) {
  std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                        "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                        "-keyout " + dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
  return std::system(command.c_str()) == 0;
}

TEST(MasterHttpTls, ThePortSpeaksTlsOnly) {
  char dir[] = "/tmp/nucleo-master-tls-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  if (!makeCertificate(dir)) {
    ASSERT_TRUE(fs::removeAll(dir));
    GTEST_SKIP() << "the openssl CLI could not make a certificate";
  }
  MasterOptions options;
  options.port = 0;
  options.tlsCert = std::string(dir) + "/cert.pem";
  options.tlsKey = std::string(dir) + "/key.pem";
  options.requestTimeout = 2s;
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error().message;
  uint16_t port = (*server)->port();

  ssl::context context(ssl::context::tls_client);
  context.load_verify_file(options.tlsCert);
  context.set_verify_mode(ssl::verify_peer);
  asio::io_context ioc;
  beast::ssl_stream<tcp::socket> stream(ioc, context);
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  stream.handshake(ssl::stream_base::client);  // verifies the certificate
  for (const char* body : {R"({"type":"GET_HEALTH"})", R"({"type":"GET_VERSION"})"}) {
    http::request<http::string_body> req{http::verb::post, "/api/v1", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, kJson);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);  // two requests on one TLS connection
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_NE(res.body().find("GET_"), std::string::npos) << res.body();
  }
  // Plain HTTP gets no HTTP answer.
  EXPECT_NE(request(port, http::verb::get, "/health", "", "").status, 200);

  // A bad key file is refused at start, naming the flag.
  options.tlsKey = std::string(dir) + "/missing.pem";
  auto bad = Server::start(options);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--tls-key"), std::string::npos);
  (*server)->stop();
  ASSERT_TRUE(fs::removeAll(dir));
}

}  // namespace
}  // namespace nucleo::master
