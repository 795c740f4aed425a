#include "base/http_stream.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace nucleo::recordio {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool RecordQueue::push(std::string_view data) {
  std::string record = std::to_string(data.size()) + "\n";
  record += data;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || queue_.size() >= maxQueued_) return false;
    queue_.push_back(std::move(record));
  }
  wake();
  return true;
}

void RecordQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  wake();
}

bool RecordQueue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::deque<std::string> RecordQueue::take(bool* closed) {
  std::lock_guard lock(mutex_);
  *closed = closed_;
  return std::exchange(queue_, {});
}

// Producers may run on other threads than the writer: the timer is touched
// only on the writer's executor.
void RecordQueue::wake() {
  asio::post(executor_, [self = shared_from_this()] { self->timer_.cancel(); });
}

struct Writer {
  template <class Stream>
  static awaitable<void> records(Stream& stream, RecordQueue& queue,
                                 std::chrono::steady_clock::duration writeTimeout) {
    auto& tcpStream = beast::get_lowest_layer(stream);
    for (;;) {
      bool closed = false;
      auto batch = queue.take(&closed);
      if (batch.empty() && closed) {
        tcpStream.expires_after(std::chrono::seconds(5));
        co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
        co_return;
      }
      if (batch.empty()) {
        queue.timer_.expires_after(std::chrono::hours(1));
        co_await queue.timer_.async_wait(kTuple);
        asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return;
        continue;
      }
      for (auto& record : batch) {
        // A reader that stops reading fills the socket; the write then times out.
        tcpStream.expires_after(writeTimeout);
        auto [ec, n] =
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(record)), kTuple);
        if (ec) co_return;
      }
    }
  }

  template <class Stream>
  static awaitable<void> serve(Stream& stream, unsigned version, const Fields& fields,
                               RecordQueue& queue,
                               std::chrono::steady_clock::duration writeTimeout) {
    http::response<http::empty_body> head{http::status::ok, version};
    for (const auto& [name, value] : fields) head.set(name, value);
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    beast::get_lowest_layer(stream).expires_after(writeTimeout);
    auto [ec, n] = co_await http::async_write_header(stream, serializer, kTuple);
    // watchPeer reads the raw socket: under TLS what it drains is only the
    // peer's close_notify or stray bytes, never a request (a stream ends its
    // connection's requests).
    if (!ec)
      co_await (records(stream, queue, writeTimeout) ||
                watchPeer(beast::get_lowest_layer(stream).socket()));
  }
};

awaitable<void> serveRecords(beast::tcp_stream& stream, unsigned version, const Fields& fields,
                             RecordQueue& queue, std::chrono::steady_clock::duration writeTimeout) {
  return Writer::serve(stream, version, fields, queue, writeTimeout);
}

awaitable<void> serveRecords(beast::ssl_stream<beast::tcp_stream>& stream, unsigned version,
                             const Fields& fields, RecordQueue& queue,
                             std::chrono::steady_clock::duration writeTimeout) {
  return Writer::serve(stream, version, fields, queue, writeTimeout);
}

awaitable<void> watchPeer(asio::ip::tcp::socket& socket) {
  std::array<char, 512> sink;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(sink), kTuple);
    if (ec) co_return;  // the subscriber hung up
  }
}

}  // namespace nucleo::recordio
