// The Boost.Beast HTTP client: the only translation unit of the image store
// that includes Beast and Asio (each such unit costs half a minute and 2 GiB
// to compile). A request runs as one C++20 coroutine on a private
// io_context; every step has a deadline, and errors come back as
// error codes (as_tuple), never as exceptions across the interface.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "base/fs.hpp"
#include "images/http_client.hpp"

namespace nucleo::images {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t MAX_COLLECTED = 16 << 20;

Error netError(const HttpRequest& r, std::string_view step, const boost::system::error_code& ec) {
  return Error::make("{} {}: {}: {}", r.method, r.url.str(), step, ec.message());
}

class BeastClient : public HttpClient {
 public:
  explicit BeastClient(HttpClientOptions options) : options_(std::move(options)) {}
  Result<HttpResponse> send(const HttpRequest& request, const BodySink& sink) override;

 private:
  Status initTls();
  awaitable<Result<HttpResponse>> run(const HttpRequest& request, const BodySink& sink);
  template <class Stream>
  awaitable<Result<HttpResponse>> exchange(Stream& stream, beast::tcp_stream& tcp,
                                           const HttpRequest& request, const BodySink& sink);
  std::chrono::seconds timeout() const { return std::chrono::seconds(options_.timeoutSeconds); }

  HttpClientOptions options_;
  asio::io_context io_;
  std::optional<ssl::context> tls_;
};

Status BeastClient::initTls() {
  if (tls_) return ok();
  boost::system::error_code ec;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(options_.verifyTls ? ssl::verify_peer : ssl::verify_none, ec);
  std::string ca = options_.caFile;
  if (const char* env = std::getenv("SSL_CERT_FILE"); ca.empty() && env && *env) ca = env;
  // libssl is linked statically: its compiled-in OPENSSLDIR may not be where
  // this system keeps its CA bundle, so Debian's bundle is named outright.
  if (ca.empty() && fs::exists("/etc/ssl/certs/ca-certificates.crt"))
    ca = "/etc/ssl/certs/ca-certificates.crt";
  if (!ca.empty()) ctx.load_verify_file(ca, ec);
  else ctx.set_default_verify_paths(ec);
  if (ec) return Error::make("TLS: CA certificates '{}': {}", ca, ec.message());
  tls_.emplace(std::move(ctx));
  return ok();
}

template <class Stream>
awaitable<Result<HttpResponse>> BeastClient::exchange(Stream& stream, beast::tcp_stream& tcp,
                                                      const HttpRequest& request,
                                                      const BodySink& sink) {
  http::request<http::string_body> req{http::string_to_verb(request.method), request.url.target, 11};
  req.set(http::field::host, request.url.authority());
  req.set(http::field::user_agent, "nucleo/0.1");
  req.set(http::field::connection, "close");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  req.body() = request.body;
  req.prepare_payload();
  tcp.expires_after(timeout());
  if (auto [ec, n] = co_await http::async_write(stream, req, tuple); ec)
    co_return netError(request, "send", ec);

  beast::flat_buffer buffer;
  buffer.reserve(1 << 16);  // Beast reads into spare capacity only: 512-byte reads otherwise
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  if (request.method == "HEAD") parser.skip(true);
  tcp.expires_after(timeout());
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, tuple); ec)
    co_return netError(request, "read response", ec);
  HttpResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  bool streaming = sink && (out.status == 200 || out.status == 206);
  std::vector<char> chunk(1 << 17);
  uint64_t received = 0;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    tcp.expires_after(timeout());
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple);
    if (ec == http::error::need_buffer) ec = {};
    size_t got = chunk.size() - parser.get().body().size;
    if (ec)
      co_return netError(request, fmt::format("connection lost after {} bytes of the body", received + got), ec);
    received += got;
    if (streaming) {
      if (auto s = sink(chunk.data(), got); !s) co_return std::move(s).error();
    } else {
      if (out.body.size() + got > MAX_COLLECTED)
        co_return Error::make("{} {}: response body larger than {} bytes", request.method,
                              request.url.str(), MAX_COLLECTED);
      out.body.append(chunk.data(), got);
    }
  }
  beast::error_code ignored;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return out;
}

awaitable<Result<HttpResponse>> BeastClient::run(const HttpRequest& request, const BodySink& sink) {
  const Url& url = request.url;
  asio::ip::tcp::resolver resolver(io_);
  auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, tuple);
  if (rec) co_return netError(request, "resolve '" + url.host + "'", rec);
  if (url.scheme == "http") {
    beast::tcp_stream tcp(io_);
    tcp.expires_after(timeout());
    if (auto [ec, ep] = co_await tcp.async_connect(endpoints, tuple); ec)
      co_return netError(request, "connect", ec);
    co_return co_await exchange(tcp, tcp, request, sink);
  }
  if (auto s = initTls(); !s) co_return std::move(s).error();
  beast::ssl_stream<beast::tcp_stream> stream(io_, *tls_);
  auto& tcp = beast::get_lowest_layer(stream);
  // SNI, and the name the certificate must carry.
  if (!::SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
    co_return Error::make("{}: TLS: cannot set server name '{}'", url.str(), url.host);
  if (options_.verifyTls) stream.set_verify_callback(ssl::host_name_verification(url.host));
  tcp.expires_after(timeout());
  if (auto [ec, ep] = co_await tcp.async_connect(endpoints, tuple); ec)
    co_return netError(request, "connect", ec);
  tcp.expires_after(timeout());
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, tuple); ec)
    co_return netError(request, "TLS handshake", ec);
  co_return co_await exchange(stream, tcp, request, sink);
}

Result<HttpResponse> BeastClient::send(const HttpRequest& request, const BodySink& sink) {
  std::optional<Result<HttpResponse>> result;
  // co_spawn needs a default-constructible result; Result is not one.
  asio::co_spawn(
      io_, [&]() -> awaitable<void> { result.emplace(co_await run(request, sink)); },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          result.emplace(Error::make("{} {}: {}", request.method, request.url.str(), ex.what()));
        }
      });
  io_.restart();
  io_.run();
  if (!result) return Error::make("{} {}: request did not complete", request.method, request.url.str());
  return std::move(*result);
}

}  // namespace

std::unique_ptr<HttpClient> makeHttpClient(const HttpClientOptions& options) {
  return std::make_unique<BeastClient>(options);
}

}  // namespace nucleo::images
