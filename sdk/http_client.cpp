#include "sdk/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <variant>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace nucleo::sdk {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kUseErr = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kMaxBody = 64ull << 20;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

template <class Fields>
HttpResponseHead headOf(const http::response_header<Fields>& header) {
  HttpResponseHead head;
  head.status = static_cast<int>(header.result_int());
  for (const auto& field : header) head.headers[lower(field.name_string())] = std::string(field.value());
  return head;
}

using Request = http::request<http::string_body>;
using StreamParser = http::response_parser<http::buffer_body>;

struct Exchanged : HttpResponse {
  bool keepAlive = true;
};

template <class Stream>
asio::awaitable<Result<Exchanged>> exchangeImpl(Stream& stream, beast::flat_buffer& buffer,
                                                const Request& req) {
  auto [writeError, written] = co_await http::async_write(stream, req, kUseErr);
  if (writeError)
    co_return Error::make("{} {}: {}", std::string(req.method_string()), std::string(req.target()),
                          writeError.message());
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  auto [readError, read] = co_await http::async_read(stream, buffer, parser, kUseErr);
  if (readError)
    co_return Error::make("POST {}: reading the response: {}", std::string(req.target()),
                          readError.message());
  Exchanged response;
  response.head = headOf(parser.get().base());
  response.body = std::move(parser.get().body());
  response.keepAlive = parser.get().keep_alive();
  co_return response;
}

template <class Stream>
asio::awaitable<Result<HttpResponseHead>> sendAndReadHead(Stream& stream, beast::flat_buffer& buffer,
                                                          const Request& req, StreamParser& parser) {
  auto [writeError, written] = co_await http::async_write(stream, req, kUseErr);
  if (writeError) co_return Error::make("POST {}: {}", std::string(req.target()), writeError.message());
  auto [readError, read] = co_await http::async_read_header(stream, buffer, parser, kUseErr);
  if (readError)
    co_return Error::make("POST {}: reading the response: {}", std::string(req.target()),
                          readError.message());
  co_return headOf(parser.get().base());
}

// The next body bytes; a read may only parse a chunk header, so it goes on
// until there are bytes or the body ends.
template <class Stream>
asio::awaitable<Result<std::string>> readBody(Stream& stream, beast::flat_buffer& buffer,
                                              StreamParser& parser) {
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    auto [readError, read] = co_await http::async_read_some(stream, buffer, parser, kUseErr);
    if (readError && readError != http::error::need_buffer)
      co_return Error::make("reading the stream: {}", readError.message());
    size_t produced = sizeof chunk - parser.get().body().size;
    if (produced > 0) co_return std::string(chunk, produced);
  }
  co_return std::string();
}
}  // namespace

struct HttpConnection::State {
  State(asio::any_io_executor executor, TlsOptions options)
      : executor(executor), tls(std::move(options)), sslContext(ssl::context::tls_client) {}

  asio::any_io_executor executor;
  TlsOptions tls;
  ssl::context sslContext;
  std::string host;
  std::variant<std::monostate, beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> streamParser;

  beast::tcp_stream& tcpLayer() {
    if (auto* plain = std::get_if<beast::tcp_stream>(&stream)) return *plain;
    return beast::get_lowest_layer(std::get<beast::ssl_stream<beast::tcp_stream>>(stream));
  }

  bool plain() const { return std::holds_alternative<beast::tcp_stream>(stream); }
  beast::tcp_stream& plainStream() { return std::get<beast::tcp_stream>(stream); }
  beast::ssl_stream<beast::tcp_stream>& tlsStream() {
    return std::get<beast::ssl_stream<beast::tcp_stream>>(stream);
  }

  http::request<http::string_body> makeRequest(const std::string& target, const HttpHeaders& headers,
                                               std::string body,
                                               const std::string& method = "POST") const {
    http::verb verb = http::string_to_verb(method);
    http::request<http::string_body> req{verb == http::verb::unknown ? http::verb::post : verb,
                                         target, 11};
    req.set(http::field::host, host);
    req.keep_alive(true);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }
};

HttpConnection::HttpConnection(asio::any_io_executor executor, TlsOptions tls)
    : state_(std::make_unique<State>(executor, std::move(tls))) {}

HttpConnection::~HttpConnection() = default;

bool HttpConnection::isOpen() const {
  return !std::holds_alternative<std::monostate>(state_->stream) &&
         state_->tcpLayer().socket().is_open();
}

void HttpConnection::close() {
  if (std::holds_alternative<std::monostate>(state_->stream)) return;
  beast::error_code ignored;
  state_->tcpLayer().socket().shutdown(tcp::socket::shutdown_both, ignored);
  state_->tcpLayer().socket().close(ignored);
  state_->streamParser.reset();
}

asio::awaitable<Status> HttpConnection::connect(std::string host, std::string port,
                                                std::chrono::milliseconds timeout) {
  close();
  state_->buffer.clear();
  state_->host = host;
  tcp::resolver resolver(state_->executor);
  auto [resolveError, endpoints] = co_await resolver.async_resolve(host, port, kUseErr);
  if (resolveError)
    co_return Error::make("resolving {}:{}: {}", host, port, resolveError.message());
  beast::tcp_stream tcpStream(state_->executor);
  tcpStream.expires_after(timeout);
  auto [connectError, endpoint] = co_await tcpStream.async_connect(endpoints, kUseErr);
  if (connectError)
    co_return Error::make("connecting to {}:{}: {}", host, port, connectError.message());
  tcpStream.socket().set_option(tcp::no_delay(true));
  if (!state_->tls.enabled) {
    tcpStream.expires_never();
    state_->stream.emplace<beast::tcp_stream>(std::move(tcpStream));
    co_return Status{};
  }
  auto& context = state_->sslContext;
  beast::error_code ec;
  if (state_->tls.caFile.empty())
    context.set_default_verify_paths(ec);
  else
    context.load_verify_file(state_->tls.caFile, ec);
  if (ec) co_return Error::make("TLS CA '{}': {}", state_->tls.caFile, ec.message());
  context.set_verify_mode(ssl::verify_peer);
  auto& tlsStream = state_->stream.emplace<beast::ssl_stream<beast::tcp_stream>>(
      std::move(tcpStream), context);
  tlsStream.set_verify_callback(ssl::host_name_verification(host));
  if (!SSL_set_tlsext_host_name(tlsStream.native_handle(), host.c_str()))
    co_return Error::make("TLS: cannot set SNI host name {}", host);
  auto [handshakeError] = co_await tlsStream.async_handshake(ssl::stream_base::client, kUseErr);
  beast::get_lowest_layer(tlsStream).expires_never();
  if (handshakeError) {
    close();
    co_return Error::make("TLS handshake with {}:{}: {}", host, port, handshakeError.message());
  }
  co_return Status{};
}

asio::awaitable<Result<HttpResponse>> HttpConnection::request(std::string target,
                                                              HttpHeaders headers,
                                                              std::string body,
                                                              std::chrono::milliseconds timeout,
                                                              std::string method) {
  if (!isOpen()) co_return Error::make("{} {}: not connected", method, target);
  auto req = state_->makeRequest(target, headers, std::move(body), method);
  state_->tcpLayer().expires_after(timeout);
  Result<Exchanged> result = Error::make("unreachable");
  if (state_->plain())
    result = co_await exchangeImpl(state_->plainStream(), state_->buffer, req);
  else
    result = co_await exchangeImpl(state_->tlsStream(), state_->buffer, req);
  if (!result || !result->keepAlive) close();
  if (isOpen()) state_->tcpLayer().expires_never();
  if (!result) co_return std::move(result).error();
  co_return HttpResponse{std::move(result->head), std::move(result->body)};
}

asio::awaitable<Result<HttpResponseHead>> HttpConnection::openStream(
    std::string target, HttpHeaders headers, std::string body, std::chrono::milliseconds timeout) {
  if (!isOpen()) co_return Error::make("POST {}: not connected", target);
  auto req = state_->makeRequest(target, headers, std::move(body));
  state_->tcpLayer().expires_after(timeout);
  auto& parser = state_->streamParser.emplace();
  parser.body_limit(boost::none);
  Result<HttpResponseHead> result = Error::make("unreachable");
  if (state_->plain())
    result = co_await sendAndReadHead(state_->plainStream(), state_->buffer, req, parser);
  else
    result = co_await sendAndReadHead(state_->tlsStream(), state_->buffer, req, parser);
  if (isOpen()) state_->tcpLayer().expires_never();
  if (!result) close();
  co_return result;
}

asio::awaitable<Result<std::string>> HttpConnection::readSome() {
  if (!state_->streamParser || !isOpen()) co_return Error::make("stream closed");
  auto& parser = *state_->streamParser;
  if (parser.is_done()) co_return std::string();
  Result<std::string> result = Error::make("unreachable");
  if (state_->plain())
    result = co_await readBody(state_->plainStream(), state_->buffer, parser);
  else
    result = co_await readBody(state_->tlsStream(), state_->buffer, parser);
  if (!result) close();
  co_return result;
}

Result<HttpResponse> httpRequest(const std::string& address, const std::string& method,
                                 const std::string& target, const HttpHeaders& headers,
                                 const std::string& body, std::chrono::milliseconds timeout,
                                 const TlsOptions& tls) {
  std::string host = address, port = tls.enabled ? "443" : "80";
  if (auto colon = address.rfind(':'); colon != std::string::npos && address.find(']', colon) == std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  asio::io_context ioc;
  std::optional<Result<HttpResponse>> outcome;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        HttpConnection connection(ioc.get_executor(), tls);
        Status connected = co_await connection.connect(host, port, timeout);
        if (!connected) {
          outcome = std::move(connected).error();
          co_return;
        }
        outcome = co_await connection.request(target, headers, body, timeout, method);
      },
      asio::detached);
  ioc.run();
  if (!outcome) return Error::make("{} {}{}: no answer", method, address, target);
  return std::move(*outcome);
}

}  // namespace nucleo::sdk
