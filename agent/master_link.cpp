#include "agent/master_link.hpp"

#include <deque>
#include <random>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>

#include "base/logging.hpp"

namespace nucleo::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr const char* kPath = "/api/v1/nucleo/agent";
constexpr const char* kProtobuf = "application/x-protobuf";

bool RecordIoDecoder::feed(std::string_view data, std::vector<std::string>& out,
                           size_t maxRecord) {
  buffer_.append(data);
  size_t pos = 0;
  for (;;) {
    size_t newline = buffer_.find('\n', pos);
    if (newline == std::string::npos) {
      if (buffer_.size() - pos > 20) return false;  // no length is that long
      break;
    }
    std::string_view digits(buffer_.data() + pos, newline - pos);
    if (digits.empty() || digits.size() > 20) return false;
    uint64_t length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (length > maxRecord) return false;
    if (buffer_.size() - newline - 1 < length) break;
    out.emplace_back(buffer_.substr(newline + 1, length));
    pos = newline + 1 + length;
  }
  buffer_.erase(0, pos);
  return true;
}

struct MasterLink::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, AgentOptions options, MasterLinkHooks hooks)
      : io_(io), options_(std::move(options)), hooks_(std::move(hooks)), wake_(io),
        rng_(std::random_device{}()) {}

  awaitable<void> run();
  awaitable<bool> session();
  void authorize(boost::beast::http::request<boost::beast::http::string_body>& request) const;
  awaitable<bool> readStream(beast::tcp_stream& stream, beast::flat_buffer& buffer);
  awaitable<void> heartbeats(uint64_t generation, std::chrono::milliseconds interval);
  awaitable<void> sender();
  awaitable<bool> post(std::unique_ptr<beast::tcp_stream>& conn, const std::string& body);
  void closeStream() {
    if (stream_) stream_->socket().close();
  }

  asio::io_context& io_;
  AgentOptions options_;
  MasterLinkHooks hooks_;
  std::shared_ptr<beast::tcp_stream> stream_;
  std::string streamId_;
  std::string agentId_;
  uint64_t generation_ = 0;
  std::deque<std::string> outbox_;
  asio::steady_timer wake_;
  std::mt19937 rng_;
  bool stopped_ = false;
};

awaitable<void> MasterLink::Impl::run() {
  auto self = shared_from_this();
  auto backoff = std::chrono::milliseconds(200);
  asio::steady_timer timer(io_);
  while (!stopped_) {
    bool registered = false;
    try {
      registered = co_await session();
    } catch (const std::exception& e) {
      logging::get("agent")->warn("master link: {}", e.what());
    }
    ++generation_;
    streamId_.clear();
    stream_.reset();
    if (stopped_) break;
    hooks_.onDisconnected();
    if (registered) backoff = std::chrono::milliseconds(200);
    // Jitter: agents that lost the same master do not come back in lockstep.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    timer.expires_after(std::chrono::milliseconds(jitter(rng_)));
    co_await timer.async_wait(kTuple);
    backoff = std::min(backoff * 2, options_.registrationBackoffMax);
  }
}

// HTTP Basic credentials (--credential) on every request to the master.
void MasterLink::Impl::authorize(http::request<http::string_body>& request) const {
  if (options_.principal.empty()) return;
  std::string plain = options_.principal + ":" + options_.secret;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                               reinterpret_cast<const unsigned char*>(plain.data()),
                               static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(length));
  request.set(http::field::authorization, "Basic " + encoded);
}

awaitable<bool> MasterLink::Impl::session() {
  tcp::resolver resolver(io_);
  auto [rec, endpoints] = co_await resolver.async_resolve(
      options_.masterHost, std::to_string(options_.masterPort), kTuple);
  if (rec) co_return false;
  auto stream = std::make_shared<beast::tcp_stream>(io_);
  stream_ = stream;
  stream->expires_after(std::chrono::seconds(10));
  auto [cec, ep] = co_await stream->async_connect(endpoints, kTuple);
  if (cec) co_return false;
  boost::system::error_code nec;
  stream->socket().set_option(tcp::no_delay(true), nec);  // small writes go out at once
  http::request<http::string_body> request{http::verb::post, kPath, 11};
  request.set(http::field::host, options_.masterHost);
  request.set(http::field::content_type, kProtobuf);
  request.set(http::field::accept, kProtobuf);
  authorize(request);
  request.body() = hooks_.registerCall().SerializeAsString();
  request.prepare_payload();
  auto [wec, wn] = co_await http::async_write(*stream, request, kTuple);
  if (wec) co_return false;
  beast::flat_buffer buffer;
  co_return co_await readStream(*stream, buffer);
}

awaitable<bool> MasterLink::Impl::readStream(beast::tcp_stream& stream,
                                             beast::flat_buffer& buffer) {
  http::response_parser<http::empty_body> parser;
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (hec) co_return false;
  int status = parser.get().result_int();
  if (status != 200) {
    logging::get("agent")->warn("master refused REGISTER status={}", status);
    if (status == 403) hooks_.onRefused("the master refused the agent (403)");
    co_return false;
  }
  streamId_ = std::string(parser.get()["Mesos-Stream-Id"]);
  RecordIoDecoder decoder;
  std::vector<std::string> records;
  bool bad = false, registered = false;
  auto onChunk = [&](uint64_t, std::string_view body, beast::error_code&) -> size_t {
    if (!decoder.feed(body, records)) bad = true;
    return body.size();
  };
  parser.on_chunk_body(onChunk);
  uint64_t generation = generation_;
  while (!parser.is_done() && !bad && !stopped_) {
    stream.expires_after(options_.masterPingTimeout);  // a silent master is a lost one
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kTuple);
    if (ec) break;
    for (auto& record : records) {
      nucleo::agent::Event event;
      if (!event.ParseFromString(record)) {
        bad = true;
        break;
      }
      if (event.type() == nucleo::agent::Event::PING) continue;
      if (event.type() == nucleo::agent::Event::REGISTERED) {
        registered = true;
        agentId_ = event.registered().agent_id().value();
        double seconds = event.registered().heartbeat_interval_seconds();
        auto interval = std::chrono::milliseconds(
            static_cast<int64_t>((seconds > 0 ? seconds : 5) * 500));  // half of it
        asio::co_spawn(io_, heartbeats(generation, interval), asio::detached);
      }
      hooks_.onEvent(event);
      if (generation != generation_ || !stream_) co_return registered;  // reconnect()
    }
    records.clear();
  }
  if (bad) logging::get("agent")->warn("malformed event stream from the master; reconnecting");
  co_return registered;
}

awaitable<void> MasterLink::Impl::heartbeats(uint64_t generation,
                                             std::chrono::milliseconds interval) {
  auto self = shared_from_this();
  asio::steady_timer timer(io_);
  while (generation == generation_ && !stopped_) {
    nucleo::agent::Call call;
    call.set_type(nucleo::agent::Call::HEARTBEAT);
    call.mutable_agent_id()->set_value(agentId_);
    outbox_.push_back(call.SerializeAsString());
    wake_.cancel();
    timer.expires_after(interval);
    co_await timer.async_wait(kTuple);
  }
}

awaitable<bool> MasterLink::Impl::post(std::unique_ptr<beast::tcp_stream>& conn,
                                       const std::string& body) {
  if (!conn) {
    tcp::resolver resolver(io_);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        options_.masterHost, std::to_string(options_.masterPort), kTuple);
    if (rec) co_return false;
    conn = std::make_unique<beast::tcp_stream>(io_);
    conn->expires_after(std::chrono::seconds(10));
    auto [cec, ep] = co_await conn->async_connect(endpoints, kTuple);
    if (cec) co_return false;
    boost::system::error_code nec;
    conn->socket().set_option(tcp::no_delay(true), nec);
  }
  http::request<http::string_body> request{http::verb::post, kPath, 11};
  request.set(http::field::host, options_.masterHost);
  request.set(http::field::content_type, kProtobuf);
  request.set("Mesos-Stream-Id", streamId_);
  authorize(request);
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();
  conn->expires_after(options_.requestTimeout);
  auto [wec, wn] = co_await http::async_write(*conn, request, kTuple);
  if (wec) co_return false;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [rec, rn] = co_await http::async_read(*conn, buffer, parser, kTuple);
  if (rec) co_return false;
  int status = parser.get().result_int();
  if (status == 404) {  // the master forgot this agent: register again
    logging::get("agent")->warn("master does not know the agent; registering again");
    closeStream();
  } else if (status >= 400) {
    logging::get("agent")->warn("master answered {}: {}", status, parser.get().body());
  }
  if (!parser.get().keep_alive()) conn.reset();
  co_return true;
}

awaitable<void> MasterLink::Impl::sender() {
  auto self = shared_from_this();
  std::unique_ptr<beast::tcp_stream> conn;
  while (!stopped_) {
    if (outbox_.empty()) {
      wake_.expires_after(std::chrono::hours(1));
      co_await wake_.async_wait(kTuple);
      continue;
    }
    std::string body = std::move(outbox_.front());
    outbox_.pop_front();
    if (streamId_.empty()) continue;
    bool sent = false;
    for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
      sent = co_await post(conn, body);
      if (!sent) conn.reset();  // a stale keep-alive connection: once more on a new one
    }
  }
}

std::unique_ptr<MasterLink> MasterLink::start(asio::io_context& io, const AgentOptions& options,
                                              MasterLinkHooks hooks) {
  auto impl = std::make_shared<Impl>(io, options, std::move(hooks));
  asio::co_spawn(io, impl->run(), asio::detached);
  asio::co_spawn(io, impl->sender(), asio::detached);
  return std::unique_ptr<MasterLink>(new MasterLink(impl));
}

MasterLink::~MasterLink() { stop(); }

void MasterLink::send(const nucleo::agent::Call& call) {
  if (impl_->streamId_.empty()) return;
  if (impl_->outbox_.size() >= 100000) return;  // the master is not keeping up
  impl_->outbox_.push_back(call.SerializeAsString());
  impl_->wake_.cancel();
}

void MasterLink::reconnect() {
  ++impl_->generation_;
  impl_->closeStream();
}

void MasterLink::stop() {
  if (!impl_ || impl_->stopped_) return;
  impl_->stopped_ = true;
  impl_->closeStream();
  impl_->wake_.cancel();
}

}  // namespace nucleo::agent
