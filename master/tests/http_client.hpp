#pragma once
// The HTTP client side of the master's HTTP tests: plain requests, RecordIO
// stream readers that check one record per chunk, and a fixture that starts
// a server on a free loopback port and registers simulated agents.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "master/convert.hpp"
#include "master/server.hpp"
#include "mesos/v1/master/master.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "nucleo/agent.pb.h"
#include "proto/json.hpp"

namespace nucleo::master::http_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;

inline const std::string kJson = "application/json";
inline const std::string kProtobuf = "application/x-protobuf";

struct Reply {
  int status = 0;
  std::string body;
  std::string contentType;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

inline Reply request(uint16_t port, http::verb verb, const std::string& path, const std::string& body,
              const std::string& contentType, const Headers& headers = {}) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, path, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!contentType.empty()) req.set(http::field::content_type, contentType);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  if (ec) return Reply{-1, ec.message(), ""};
  return Reply{static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::content_type])};
}

inline Reply post(uint16_t port, const std::string& path, const std::string& body,
           const std::string& contentType = kJson, const Headers& headers = {}) {
  return request(port, http::verb::post, path, body, contentType, headers);
}

// An open subscription: reads RecordIO records from the chunked response and
// checks that every HTTP chunk holds exactly one whole record.
class StreamClient {
 public:
  StreamClient(uint16_t port, const std::string& path, const std::string& body,
               const std::string& contentType, const std::string& accept = "")
      : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, contentType);
    if (!accept.empty()) req.set(http::field::accept, accept);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    parser_.on_chunk_header(chunkHeader_);
    parser_.on_chunk_body(chunkBody_);
    beast::error_code ec;
    http::read_header(socket_, buffer_, parser_, ec);
    if (ec) return;
    status = static_cast<int>(parser_.get().result_int());
    streamId = std::string(parser_.get()["Mesos-Stream-Id"]);
    contentType_ = std::string(parser_.get()[http::field::content_type]);
    if (status != 200) {
      http::read(socket_, buffer_, parser_, ec);
      errorBody = parser_.get().body();
    }
  }

  // The next record, or nullopt after `timeout` or at the end of the stream.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (records_.empty()) {
      if (ended_ || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      bool done = false;
      beast::error_code ec;
      http::async_read_some(socket_, buffer_, parser_, [&](beast::error_code e, size_t) {
        ec = e;
        done = true;
      });
      ioc_.restart();
      ioc_.run_until(deadline);
      if (!done) {
        socket_.cancel();
        ioc_.restart();
        ioc_.run();
        return std::nullopt;
      }
      if (ec || parser_.is_done()) ended_ = true;
    }
    std::string record = std::move(records_.front());
    records_.erase(records_.begin());
    return record;
  }

  template <class E>
  std::optional<E> nextEvent(std::chrono::milliseconds timeout = 5s) {
    auto record = next(timeout);
    if (!record) return std::nullopt;
    E event;
    bool ok = contentType_ == kProtobuf ? event.ParseFromString(*record)
                                         : bool(proto::fromJson(*record, &event));
    EXPECT_TRUE(ok) << *record;
    return event;
  }

  // Skips events until one of `type` (HEARTBEATs and others in between).
  template <class E>
  std::optional<E> waitFor(typename E::Type type, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto event = nextEvent<E>(left);
      if (!event) return std::nullopt;
      if (event->type() == type) return event;
    }
    return std::nullopt;
  }

  bool ended() const { return ended_; }
  void hangUp() {
    beast::error_code ec;
    socket_.close(ec);
  }

  int status = 0;
  std::string streamId;
  std::string errorBody;
  bool chunkMismatch = false;

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::string contentType_;
  std::string chunk_;
  uint64_t chunkSize_ = 0;
  std::vector<std::string> records_;
  bool ended_ = false;

  std::function<void(uint64_t, beast::string_view, beast::error_code&)> chunkHeader_ =
      [this](uint64_t size, beast::string_view, beast::error_code&) {
        chunkSize_ = size;
        chunk_.clear();
      };
  std::function<size_t(uint64_t, beast::string_view, beast::error_code&)> chunkBody_ =
      [this](uint64_t remain, beast::string_view body, beast::error_code&) {
        chunk_.append(body.data(), body.size());
        if (remain == body.size()) {  // the chunk is complete: one record
          auto newline = chunk_.find('\n');
          if (newline == std::string::npos ||
              std::stoull(chunk_.substr(0, newline)) != chunk_.size() - newline - 1 ||
              chunk_.size() != chunkSize_) {
            chunkMismatch = true;
          } else {
            records_.push_back(chunk_.substr(newline + 1));
          }
        }
        return body.size();
      };
};

inline std::string subscribeJson(const std::string& extra = "") {
  return R"({"type":"SUBSCRIBE","framework_id":null,"subscribe":{"framework_info":{
    "user":"tester","name":"http test","failover_timeout":100)" + extra + "}}}";
}

class MasterHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { startServer(MasterOptions{}); }

  void startServer(MasterOptions options) {
    options.port = 0;
    options.heartbeatInterval = 300ms;
    options.allocationInterval = 50ms;
    options.maxBodyBytes = 64 * 1024;
    auto server = Server::start(options);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    port = server_->port();
  }

  // Registers a simulated agent over protobuf; returns its stream.
  std::unique_ptr<StreamClient> registerAgent(std::string* agentId) {
    nucleo::agent::Call call;
    call.set_type(nucleo::agent::Call::REGISTER);
    auto* info = call.mutable_register_()->mutable_agent_info();
    info->set_hostname("sim-agent");
    info->set_port(5051);
    toProto(*Resources::parse("cpus:2;mem:1024;disk:1000;ports:[31000-31999]"), "",
            info->mutable_resources());
    auto agent = std::make_unique<StreamClient>(port, "/api/v1/nucleo/agent",
                                                call.SerializeAsString(), kProtobuf, kProtobuf);
    EXPECT_EQ(agent->status, 200) << agent->errorBody;
    auto registered = agent->nextEvent<nucleo::agent::Event>();
    EXPECT_TRUE(registered && registered->type() == nucleo::agent::Event::REGISTERED);
    if (registered) *agentId = registered->registered().agent_id().value();
    return agent;
  }

  Reply schedulerCall(const std::string& streamId, const std::string& json) {
    return post(port, "/api/v1/scheduler", json, kJson, {{"Mesos-Stream-Id", streamId}});
  }

  std::unique_ptr<Server> server_;
  uint16_t port = 0;
};

}  // namespace nucleo::master::http_test
