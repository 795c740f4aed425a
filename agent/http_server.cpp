#include "agent/http_server.hpp"

#include <unistd.h>


#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "agent/files/operator_files.hpp"
#include "base/http_stream.hpp"
#include "base/logging.hpp"
#include "base/strings.hpp"
#include "proto/json.hpp"

namespace nucleo::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

const std::string kJson = "application/json";
const std::string kProtobuf = "application/x-protobuf";
using Request = http::request<http::string_body>;
using Reply = http::response<http::string_body>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// JSON if acceptable (Mesos's preference), then protobuf; nullopt: 406.
std::optional<bool> acceptsJson(std::string_view accept) {
  if (strings::trim(accept).empty()) return true;
  bool json = false, protobuf = false;
  for (const auto& range : strings::split(accept, ',', true)) {
    std::string type = lower(strings::trim(strings::split(range, ';')[0]));
    bool any = type == "*/*" || type == "application/*";
    json = json || any || type == kJson;
    protobuf = protobuf || any || type == kProtobuf;
  }
  if (json) return true;
  if (protobuf) return false;
  return std::nullopt;
}

std::string urlDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(in[i + 1]) &&
               std::isxdigit(in[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::map<std::string, std::string> queryOf(std::string_view target) {
  std::map<std::string, std::string> out;
  auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  for (const auto& pair : strings::split(target.substr(q + 1), '&', true)) {
    auto eq = pair.find('=');
    out[urlDecode(pair.substr(0, eq))] =
        eq == std::string::npos ? "" : urlDecode(std::string_view(pair).substr(eq + 1));
  }
  return out;
}

// An executor's SUBSCRIBE response: a bounded record queue the connection's
// writer drains (base/http_stream.hpp).
class HttpExecutorChannel final : public ExecutorChannel {
 public:
  HttpExecutorChannel(asio::any_io_executor executor, bool json)
      : queue(std::make_shared<recordio::RecordQueue>(std::move(executor), 10000)), json_(json) {}
  bool send(const mesos::v1::executor::Event& event) override {
    if (queue->closed()) return false;
    return queue->push(json_ ? proto::toJson(event) : event.SerializeAsString());
  }
  void close() override { queue->close(); }
  const std::shared_ptr<recordio::RecordQueue> queue;

 private:
  bool json_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, const AgentOptions& options)
      : io_(io), options_(options), acceptor_(io) {}

  awaitable<void> listen();
  awaitable<void> session(tcp::socket socket);
  awaitable<void> handle(beast::tcp_stream& stream, Request& request, bool* keep);
  Reply text(const Request& request, int status, std::string body,
             const std::string& type = "text/plain; charset=utf-8");
  std::optional<Reply> parseBody(const Request& request, google::protobuf::Message* message);
  awaitable<void> executorApi(beast::tcp_stream& stream, Request& request, bool* keep);
  Reply operatorApi(const Request& request);
  Reply files(const Request& request, const std::string& path);

  asio::io_context& io_;
  AgentOptions options_;
  tcp::acceptor acceptor_;
  Agent* agent_ = nullptr;
  uint16_t port_ = 0;
};

awaitable<void> HttpServer::Impl::listen() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(io_, kTuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);  // see master/server.cpp
    asio::co_spawn(io_, session(std::move(socket)), asio::detached);
  }
}

awaitable<void> HttpServer::Impl::session(tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.maxBodyBytes);
    parser.header_limit(64 * 1024);
    stream.expires_after(options_.requestTimeout);
    auto [rec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (rec == http::error::body_limit || rec == http::error::header_limit) {
      Request dummy;
      auto reply = text(dummy, 413, "Request body is larger than the limit");
      reply.keep_alive(false);
      reply.prepare_payload();
      co_await http::async_write(stream, reply, kTuple);
      break;
    }
    if (rec) break;
    Request request = parser.release();
    bool keep = request.keep_alive();
    try {
      co_await handle(stream, request, &keep);
    } catch (const std::exception& e) {
      logging::get("agent")->error("request {} failed: {}", std::string(request.target()), e.what());
      keep = false;
    }
    if (!keep) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

Reply HttpServer::Impl::text(const Request& request, int status, std::string body,
                             const std::string& type) {
  Reply reply{static_cast<http::status>(status), request.version() ? request.version() : 11};
  if (!body.empty()) {
    reply.set(http::field::content_type, type);
    if (type.rfind("text/", 0) == 0 && body.back() != '\n') body += '\n';
  }
  reply.body() = std::move(body);
  return reply;
}

std::optional<Reply> HttpServer::Impl::parseBody(const Request& request,
                                                 google::protobuf::Message* message) {
  auto header = request.find(http::field::content_type);
  if (header == request.end()) return text(request, 400, "Expecting 'Content-Type' to be present");
  std::string type = lower(strings::trim(std::string_view(header->value()).substr(
      0, std::string_view(header->value()).find(';'))));
  if (type != kJson && type != kProtobuf)
    return text(request, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf");
  Status parsed = type == kJson ? proto::fromJson(request.body(), message)
                                : proto::fromBinary(request.body(), message);
  if (!parsed)
    return text(request, 400, "Failed to parse body into Call protobuf: " + parsed.error().message);
  return std::nullopt;
}

awaitable<void> HttpServer::Impl::handle(beast::tcp_stream& stream, Request& request, bool* keep) {
  std::string_view target(request.target().data(), request.target().size());
  std::string path(target.substr(0, target.find('?')));
  bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  Reply reply;
  if (path == "/api/v1/executor") {
    if (request.method() != http::verb::post) {
      reply = text(request, 405, "Expecting 'POST'");
    } else {
      co_await executorApi(stream, request, keep);
      co_return;
    }
  } else if (path == "/api/v1") {
    reply = request.method() == http::verb::post ? operatorApi(request)
                                                 : text(request, 405, "Expecting 'POST'");
  } else if (path == "/health" || path == "/slave(1)/health") {
    reply = get ? text(request, 200, "") : text(request, 405, "Expecting 'GET'");
  } else if (path == "/metrics" || path == "/metrics/snapshot") {
    reply = get ? text(request, 200, agent_->metricsText(), "text/plain; version=0.0.4")
                : text(request, 405, "Expecting 'GET'");
  } else if (path == "/files/browse" || path == "/files/read" || path == "/files/browse.json" ||
             path == "/files/read.json") {
    reply = get ? files(request, path) : text(request, 405, "Expecting 'GET'");
  } else {
    reply = text(request, 404, "Not found: " + path);
  }
  reply.keep_alive(*keep);
  reply.prepare_payload();
  stream.expires_after(options_.requestTimeout);
  auto [ec, n] = co_await http::async_write(stream, reply, kTuple);
  if (ec) *keep = false;
}

Reply HttpServer::Impl::operatorApi(const Request& request) {
  mesos::v1::agent::Call call;
  if (auto bad = parseBody(request, &call)) return std::move(*bad);
  auto json = acceptsJson(std::string_view(request[http::field::accept]));
  if (!json) return text(request, 406, "Expecting 'Accept' to allow application/json or application/x-protobuf");
  ApiAnswer answer = agent_->operatorCall(call);
  if (answer.status != 200 || !answer.response) return text(request, answer.status, answer.error);
  return text(request, 200,
              *json ? proto::toJson(*answer.response) : answer.response->SerializeAsString(),
              *json ? kJson : kProtobuf);
}

Reply HttpServer::Impl::files(const Request& request, const std::string& path) {
  auto query = queryOf(std::string_view(request.target().data(), request.target().size()));
  if (!query.count("path")) return text(request, 400, "Expecting 'path' to be present");
  SandboxFiles files;
  attachSandboxes(files, agent_->sandboxes());
  if (path.rfind("/files/browse", 0) == 0) {
    auto entries = files.browse(query["path"]);
    if (!entries) return text(request, httpStatusOf(entries.error()), entries.error().message);
    return text(request, 200, SandboxFiles::browseJson(*entries), kJson);
  }
  auto number = [&](const char* key, int64_t fallback) -> std::optional<int64_t> {
    if (!query.count(key)) return fallback;
    return strings::toInt(query[key]);
  };
  auto offset = number("offset", 0), length = number("length", -1);
  if (!offset || !length) return text(request, 400, "'offset' and 'length' must be integers");
  auto chunk = files.read(query["path"], *offset, *length);
  if (!chunk) return text(request, httpStatusOf(chunk.error()), chunk.error().message);
  return text(request, 200, SandboxFiles::readJson(*chunk), kJson);
}

awaitable<void> HttpServer::Impl::executorApi(beast::tcp_stream& stream, Request& request,
                                              bool* keep) {
  mesos::v1::executor::Call call;
  Reply reply;
  std::optional<bool> json = acceptsJson(std::string_view(request[http::field::accept]));
  if (auto bad = parseBody(request, &call)) {
    reply = std::move(*bad);
  } else if (call.type() == mesos::v1::executor::Call::SUBSCRIBE && !json) {
    reply = text(request, 406, "Expecting 'Accept' to allow application/json or application/x-protobuf");
  } else if (call.type() == mesos::v1::executor::Call::SUBSCRIBE) {
    auto channel = std::make_shared<HttpExecutorChannel>(stream.get_executor(), *json);
    ApiAnswer answer = agent_->executorSubscribe(call, channel);
    if (answer.status == 200) {
      recordio::Fields fields{{"Content-Type", *json ? kJson : kProtobuf}};
      co_await recordio::serveRecords(stream, request.version(), fields, *channel->queue,
                                      options_.requestTimeout);
      channel->close();
      agent_->executorDisconnected(channel.get());
      *keep = false;
      co_return;
    }
    reply = text(request, answer.status, answer.error);
  } else {
    ApiAnswer answer = agent_->executorCall(call);
    reply = text(request, answer.status, answer.error);
  }
  reply.keep_alive(*keep);
  reply.prepare_payload();
  stream.expires_after(options_.requestTimeout);
  auto [ec, n] = co_await http::async_write(stream, reply, kTuple);
  if (ec) *keep = false;
}

Result<std::unique_ptr<HttpServer>> HttpServer::bind(asio::io_context& io,
                                                     const AgentOptions& options) {
  auto impl = std::make_shared<Impl>(io, options);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.ip, ec);
  if (ec) return Error::make("--ip '{}': {}", options.ip, ec.message());
  tcp::endpoint endpoint(address, options.port);
  impl->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor_.bind(endpoint, ec);
  if (!ec) impl->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::make("listen on {}:{}: {}", options.ip, options.port, ec.message());
  impl->port_ = impl->acceptor_.local_endpoint().port();
  return std::unique_ptr<HttpServer>(new HttpServer(impl));
}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const { return impl_->port_; }

void HttpServer::serve(Agent& agent) {
  impl_->agent_ = &agent;
  asio::co_spawn(impl_->io_, impl_->listen(), asio::detached);
}

void HttpServer::stop() {
  boost::system::error_code ec;
  if (impl_) impl_->acceptor_.close(ec);
}

}  // namespace nucleo::agent
