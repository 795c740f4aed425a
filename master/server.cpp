#include "master/server.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/http_stream.hpp"
#include "base/logging.hpp"
#include "base/strings.hpp"
#include "master/master.hpp"
#include "proto/json.hpp"

namespace nucleo::master {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

const std::string kJson = "application/json";
const std::string kProtobuf = "application/x-protobuf";

// A subscriber's response stream: a bounded record queue (any thread may
// send) that the connection's writer drains (base/http_stream.hpp).
class HttpEventStream final : public EventStream {
 public:
  HttpEventStream(asio::any_io_executor executor, bool json, size_t maxQueued)
      : queue(std::make_shared<recordio::RecordQueue>(std::move(executor), maxQueued)),
        json_(json) {}

  bool send(const google::protobuf::Message& event) override {
    return queue->push(json_ ? proto::toJson(event) : event.SerializeAsString());
  }
  void close() override { queue->close(); }
  bool closed() const override { return queue->closed(); }
  const std::shared_ptr<recordio::RecordQueue> queue;

 private:
  bool json_;
};

using Request = http::request<http::string_body>;
using Reply = http::response<http::string_body>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type without parameters, lower-cased.
std::string mediaType(std::string_view value) {
  return lower(strings::trim(value.substr(0, value.find(';'))));
}

// JSON if acceptable (Mesos's preference), then protobuf; nullopt: 406.
std::optional<bool> negotiateJson(std::string_view accept) {
  if (strings::trim(accept).empty()) return true;
  bool json = false, protobuf = false;
  for (const auto& range : strings::split(accept, ',', true)) {
    auto params = strings::split(range, ';');
    std::string type = lower(strings::trim(params[0]));
    bool zero = false;
    for (size_t i = 1; i < params.size(); ++i) {
      std::string p = lower(strings::trim(params[i]));
      if (p.rfind("q=", 0) == 0 && std::strtod(p.c_str() + 2, nullptr) <= 0) zero = true;
    }
    if (zero) continue;
    bool any = type == "*/*" || type == "application/*";
    json = json || any || type == kJson;
    protobuf = protobuf || any || type == kProtobuf;
  }
  if (json) return true;
  if (protobuf) return false;
  return std::nullopt;
}

std::optional<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

}  // namespace

struct Server::Impl {
  struct Outcome {
    Reply reply;
    std::shared_ptr<HttpEventStream> stream;
    std::string streamId;
    std::string contentType;
  };

  explicit Impl(const MasterOptions& options)
      : options_(options),
        registry_(options.workDir.empty()
                      ? nullptr
                      : std::make_unique<FileRegistry>(options.workDir + "/registry.pb")),
        master_(options, clock_, registry_.get()),
        masterStrand_(asio::make_strand(ioc_)),
        acceptor_(ioc_) {}

  Status bind();
  Status loadTls();
  awaitable<void> listen();
  awaitable<void> ticker();
  awaitable<void> session(tcp::socket socket);
  template <class Stream>
  awaitable<void> serve(Stream& stream, const std::string& remoteIp);
  awaitable<Outcome> handle(const Request& request, const std::string& remoteIp);
  awaitable<Outcome> handleCall(const Request& request, const CallContext& context, bool agent);
  awaitable<Outcome> handleOperator(const Request& request);
  std::optional<Reply> checkContentType(const Request& request, std::string* type);
  template <class Stream>
  awaitable<void> serveStream(Stream& stream, const Request& request, Outcome& out);
  std::optional<std::string> authenticate(const Request& request) const;
  Reply text(const Request& request, int status, std::string body,
             const std::string& type = "text/plain; charset=utf-8");
  template <class F>
  awaitable<Response> onMaster(F&& f);
  std::string httpMetrics();

  MasterOptions options_;
  asio::io_context ioc_{1};
  SystemClock clock_;
  std::unique_ptr<Registry> registry_;
  Master master_;
  asio::strand<asio::io_context::executor_type> masterStrand_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;  // set when the port speaks TLS
  std::thread thread_;
  std::atomic<size_t> connections_{0};
  std::mutex metricsMutex_;
  std::map<int, uint64_t> statusCounts_;
  uint16_t port_ = 0;
};

Status Server::Impl::bind() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.ip, ec);
  if (ec) return Error::make("--ip '{}': {}", options_.ip, ec.message());
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::make("listen on {}:{}: {}", options_.ip, options_.port, ec.message());
  port_ = acceptor_.local_endpoint().port();
  return {};
}

awaitable<void> Server::Impl::listen() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;  // e.g. EMFILE: keep serving the others
    if (connections_ >= options_.maxConnections) continue;  // the socket closes here
    // Event chunks are small writes: without NODELAY, Nagle holds each one
    // until the delayed ACK of the last (40 ms on loopback).
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket)), asio::detached);
  }
}

awaitable<void> Server::Impl::ticker() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(50));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
    try {
      master_.tick();
    } catch (const std::exception& e) {
      logging::get("master")->error("tick failed: {}", e.what());
    }
  }
}

template <class F>
awaitable<Response> Server::Impl::onMaster(F&& f) {
  co_return co_await asio::co_spawn(
      masterStrand_,
      [&]() -> awaitable<Response> {
        try {
          co_return f();
        } catch (const std::exception& e) {
          logging::get("master")->error("call failed: {}", e.what());
          co_return Response{500, std::string("internal error: ") + e.what(), {}};
        }
      },
      asio::use_awaitable);
}

Status Server::Impl::loadTls() {
  if (options_.tlsCert.empty() && options_.tlsKey.empty()) return {};
  if (options_.tlsCert.empty() || options_.tlsKey.empty())
    return Error::make("--tls-cert and --tls-key go together");
  tls_.emplace(ssl::context::tls_server);
  boost::system::error_code ec;
  tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                    ec);
  tls_->use_certificate_chain_file(options_.tlsCert, ec);
  if (ec) return Error::make("--tls-cert '{}': {}", options_.tlsCert, ec.message());
  tls_->use_private_key_file(options_.tlsKey, ssl::context::pem, ec);
  if (ec) return Error::make("--tls-key '{}': {}", options_.tlsKey, ec.message());
  return {};
}

awaitable<void> Server::Impl::session(tcp::socket socket) {
  ++connections_;
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string remoteIp = ec ? "" : peer.address().to_string();
  if (tls_) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
    // The handshake gets the request timeout too: a silent client is cut off.
    beast::get_lowest_layer(stream).expires_after(options_.requestTimeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    if (!hec) co_await serve(stream, remoteIp);
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  } else {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream, remoteIp);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
  --connections_;
}

template <class Stream>
awaitable<void> Server::Impl::serve(Stream& stream, const std::string& remoteIp) {
  auto& tcpStream = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.maxBodyBytes);
    parser.header_limit(64 * 1024);
    tcpStream.expires_after(options_.requestTimeout);  // a slow client gets this long per request
    auto [rec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (rec == http::error::body_limit || rec == http::error::header_limit) {
      Request dummy;
      auto reply = text(dummy, 413, "Request body is larger than the limit\n");
      reply.keep_alive(false);
      reply.prepare_payload();
      co_await http::async_write(stream, reply, kTuple);
      break;
    }
    if (rec) break;
    Request request = parser.release();
    Outcome out = co_await handle(request, remoteIp);
    {
      std::lock_guard lock(metricsMutex_);
      ++statusCounts_[out.reply.result_int()];
    }
    if (out.stream) {
      co_await serveStream(stream, request, out);
      break;
    }
    out.reply.keep_alive(request.keep_alive());
    out.reply.prepare_payload();
    tcpStream.expires_after(options_.requestTimeout);
    auto [wec, wn] = co_await http::async_write(stream, out.reply, kTuple);
    if (wec || !request.keep_alive()) break;
  }
}

Reply Server::Impl::text(const Request& request, int status, std::string body,
                         const std::string& type) {
  Reply reply{static_cast<http::status>(status), request.version() ? request.version() : 11};
  if (!body.empty()) {
    reply.set(http::field::content_type, type);
    if (type.rfind("text/", 0) == 0 && body.back() != '\n') body += '\n';
  }
  reply.body() = std::move(body);
  return reply;
}

std::optional<std::string> Server::Impl::authenticate(const Request& request) const {
  if (options_.credentials.empty()) return std::string();
  auto header = request[http::field::authorization];
  if (header.substr(0, 6) != "Basic ") return std::nullopt;
  auto decoded = base64Decode(strings::trim(header.substr(6)));
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string principal = decoded->substr(0, colon);
  auto it = options_.credentials.find(principal);
  if (it == options_.credentials.end() || it->second != decoded->substr(colon + 1))
    return std::nullopt;
  return principal;
}

awaitable<Server::Impl::Outcome> Server::Impl::handle(const Request& request,
                                                      const std::string& remoteIp) {
  std::string_view target(request.target().data(), request.target().size());
  std::string path(target.substr(0, target.find('?')));
  bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (path == "/health" || path == "/master/health") {
    if (!get) co_return Outcome{text(request, 405, "Expecting 'GET'"), {}, {}, {}};
    co_return Outcome{text(request, 200, ""), {}, {}, {}};
  }
  auto principal = authenticate(request);
  if (!principal) {
    auto reply = text(request, 401, "Unauthorized");
    reply.set(http::field::www_authenticate, "Basic realm=\"mesos\"");
    co_return Outcome{std::move(reply), {}, {}, {}};
  }
  bool scheduler = path == "/api/v1/scheduler";
  bool agent = path == "/api/v1/nucleo/agent";
  bool operatorApi = path == "/api/v1";
  if (scheduler || agent || operatorApi) {
    if (request.method() != http::verb::post) {
      auto reply = text(request, 405, "Expecting 'POST'");
      reply.set(http::field::allow, "POST");
      co_return Outcome{std::move(reply), {}, {}, {}};
    }
    if (operatorApi) co_return co_await handleOperator(request);
    // A named context: GCC 12 mishandles aggregate temporaries inside co_await.
    CallContext context{"", *principal, remoteIp};
    co_return co_await handleCall(request, context, agent);
  }
  if (path == "/metrics" || path == "/metrics/snapshot" || path == "/state" ||
      path == "/master/state" || path == "/state.json") {
    if (!get) co_return Outcome{text(request, 405, "Expecting 'GET'"), {}, {}, {}};
    bool metrics = path.rfind("/metrics", 0) == 0;
    auto response = co_await onMaster([&] {
      return Response{200, metrics ? master_.metricsText() : master_.stateJson(), {}};
    });
    if (metrics) response.body += httpMetrics();
    co_return Outcome{text(request, 200, std::move(response.body),
                           metrics ? "text/plain; version=0.0.4" : kJson),
                      {}, {}, {}};
  }
  co_return Outcome{text(request, 404, "Not found: " + path), {}, {}, {}};
}

std::optional<Reply> Server::Impl::checkContentType(const Request& request, std::string* type) {
  auto contentType = request.find(http::field::content_type);
  if (contentType == request.end())
    return text(request, 400, "Expecting 'Content-Type' to be present");
  *type = mediaType(contentType->value());
  if (*type != kJson && *type != kProtobuf)
    return text(request, 415, "Expecting 'Content-Type' of application/json or "
                              "application/x-protobuf");
  return std::nullopt;
}

awaitable<Server::Impl::Outcome> Server::Impl::handleOperator(const Request& request) {
  std::string type;
  if (auto bad = checkContentType(request, &type)) co_return Outcome{std::move(*bad), {}, {}, {}};
  mesos::v1::master::Call call;
  Status parsed = type == kJson ? proto::fromJson(request.body(), &call)
                                : proto::fromBinary(request.body(), &call);
  if (!parsed)
    co_return Outcome{text(request, 400, "Failed to parse body into Call protobuf: " +
                                             parsed.error().message), {}, {}, {}};
  auto json = negotiateJson(std::string_view(request[http::field::accept]));
  if (!json)
    co_return Outcome{text(request, 406, "Expecting 'Accept' to allow application/json or "
                                         "application/x-protobuf"), {}, {}, {}};
  if (call.type() == mesos::v1::master::Call::SUBSCRIBE) {
    auto executor = co_await asio::this_coro::executor;
    auto stream = std::make_shared<HttpEventStream>(executor, *json, options_.maxQueuedEvents);
    auto response = co_await onMaster([&] { return master_.operatorSubscribe(stream); });
    if (response.status != 200)
      co_return Outcome{text(request, response.status, response.body), {}, {}, {}};
    co_return Outcome{text(request, 200, ""), stream, "", *json ? kJson : kProtobuf};
  }
  OperatorAnswer answer;
  co_await onMaster([&] {
    answer = master_.operatorCall(call);
    return Response{};
  });
  if (answer.status != 200) co_return Outcome{text(request, answer.status, answer.error), {}, {}, {}};
  std::string body = *json ? proto::toJson(answer.response) : answer.response.SerializeAsString();
  co_return Outcome{text(request, 200, std::move(body), *json ? kJson : kProtobuf), {}, {}, {}};
}

awaitable<Server::Impl::Outcome> Server::Impl::handleCall(const Request& request,
                                                          const CallContext& baseContext,
                                                          bool agent) {
  std::string type;
  if (auto bad = checkContentType(request, &type)) co_return Outcome{std::move(*bad), {}, {}, {}};
  mesos::v1::scheduler::Call schedulerCall;
  nucleo::agent::Call agentCall;
  google::protobuf::Message* call = agent ? static_cast<google::protobuf::Message*>(&agentCall)
                                          : &schedulerCall;
  Status parsed = type == kJson ? proto::fromJson(request.body(), call)
                                : proto::fromBinary(request.body(), call);
  if (!parsed)
    co_return Outcome{text(request, 400, "Failed to parse body into Call protobuf: " +
                                             parsed.error().message), {}, {}, {}};
  CallContext context = baseContext;
  context.streamId = std::string(request["Mesos-Stream-Id"]);
  bool subscribe = agent ? agentCall.type() == nucleo::agent::Call::REGISTER
                         : schedulerCall.type() == mesos::v1::scheduler::Call::SUBSCRIBE;
  std::shared_ptr<HttpEventStream> stream;
  if (subscribe) {
    auto json = negotiateJson(std::string_view(request[http::field::accept]));
    if (!json)
      co_return Outcome{text(request, 406, "Expecting 'Accept' to allow application/json or "
                                           "application/x-protobuf"), {}, {}, {}};
    auto executor = co_await asio::this_coro::executor;
    stream = std::make_shared<HttpEventStream>(executor, *json, options_.maxQueuedEvents);
  }
  auto response = co_await onMaster([&] {
    return agent ? master_.agentCall(agentCall, context, stream)
                 : master_.schedulerCall(schedulerCall, context, stream);
  });
  if (subscribe && response.status == 200) {
    std::string chosen = negotiateJson(std::string_view(request[http::field::accept])).value_or(true)
                             ? kJson : kProtobuf;
    co_return Outcome{text(request, 200, ""), stream, response.streamId, chosen};
  }
  co_return Outcome{text(request, response.status, response.body), {}, {}, {}};
}

template <class Stream>
awaitable<void> Server::Impl::serveStream(Stream& stream, const Request& request, Outcome& out) {
  recordio::Fields fields{{"Content-Type", out.contentType}};
  if (!out.streamId.empty()) fields.emplace_back("Mesos-Stream-Id", out.streamId);
  co_await recordio::serveRecords(stream, request.version(), fields, *out.stream->queue,
                                  options_.requestTimeout);
  out.stream->close();
  asio::post(masterStrand_, [this, events = out.stream] {
    try {
      master_.streamClosed(events.get());
    } catch (const std::exception& e) {
      logging::get("master")->error("stream close failed: {}", e.what());
    }
  });
}

std::string Server::Impl::httpMetrics() {
  std::lock_guard lock(metricsMutex_);
  std::string out = "# HELP nucleo_master_http_requests_total HTTP requests by status\n"
                    "# TYPE nucleo_master_http_requests_total counter\n";
  for (const auto& [status, n] : statusCounts_)
    out += fmt::format("nucleo_master_http_requests_total{{status=\"{}\"}} {}\n", status, n);
  out += fmt::format("# HELP nucleo_master_http_connections Open HTTP connections\n"
                     "# TYPE nucleo_master_http_connections gauge\n"
                     "nucleo_master_http_connections {}\n", connections_.load());
  return out;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::start(const MasterOptions& options) {
  if (!options.workDir.empty()) TRY(fs::makeDirs(options.workDir).context("--work-dir"));
  auto impl = std::make_unique<Impl>(options);
  TRY(impl->loadTls());
  TRY(impl->master_.recover());
  TRY(impl->bind());
  Impl* raw = impl.get();
  asio::co_spawn(raw->ioc_, raw->listen(), asio::detached);
  asio::co_spawn(raw->masterStrand_, raw->ticker(), asio::detached);
  raw->thread_ = std::thread([raw] {
    for (;;) {
      try {
        raw->ioc_.run();
        return;
      } catch (const std::exception& e) {
        logging::get("master")->error("event loop: {}", e.what());
      }
    }
  });
  logging::get("master")->info("listening ip={} port={} master_id={}", options.ip, raw->port_,
                               raw->master_.id());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port_; }

void Server::stop() {
  if (!impl_ || !impl_->thread_.joinable()) return;
  asio::post(impl_->ioc_, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor_.close(ec);
    impl->ioc_.stop();
  });
  impl_->thread_.join();
}

}  // namespace nucleo::master
