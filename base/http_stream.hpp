#pragma once
// A subscriber's event stream over HTTP, shared by nucleo-master (scheduler,
// agent and operator streams) and nucleo-agent (executor SUBSCRIBE): records
// queue in a bounded RecordQueue from any thread, and serveRecords() writes a
// 200 `Transfer-Encoding: chunked` response carrying one RecordIO record
// ("<length>\n<bytes>") per HTTP chunk until the queue closes or the peer
// goes away. Compiled in one Beast TU (base/http_stream.cpp).

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace nucleo::recordio {

// Bounded queue of framed records between producers (any thread) and the one
// writer coroutine. Create it with std::make_shared: wakeups hold a reference.
class RecordQueue : public std::enable_shared_from_this<RecordQueue> {
 public:
  // `executor` runs the writer; at most `maxQueued` records wait unsent.
  RecordQueue(boost::asio::any_io_executor executor, size_t maxQueued)
      : executor_(std::move(executor)), timer_(executor_), maxQueued_(maxQueued) {}

  // Frames `data` as one RecordIO record and queues it. False when closed or
  // full (a reader that does not keep up): the caller drops the subscriber.
  bool push(std::string_view data);
  // Ends the stream after the queued records; further pushes fail.
  void close();
  bool closed() const;

 private:
  friend struct Writer;
  std::deque<std::string> take(bool* closed);
  void wake();

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer timer_;  // the writer sleeps on it; wake() cancels it
  size_t maxQueued_;
  mutable std::mutex mutex_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

// Header fields of the stream's response, written in this order before
// `Transfer-Encoding: chunked` (e.g. Content-Type, Mesos-Stream-Id).
using Fields = std::vector<std::pair<std::string, std::string>>;

// Writes `HTTP/1.x 200` with `fields` and chunked encoding, then each queued
// record as one chunk, until the queue is closed and drained (then the last
// chunk), a write fails or exceeds `writeTimeout` (a reader that stopped
// reading), or the peer hangs up. Never throws for I/O errors; closes nothing.
boost::asio::awaitable<void> serveRecords(boost::beast::tcp_stream& stream, unsigned version,
                                          const Fields& fields, RecordQueue& queue,
                                          std::chrono::steady_clock::duration writeTimeout);
boost::asio::awaitable<void> serveRecords(
    boost::beast::ssl_stream<boost::beast::tcp_stream>& stream, unsigned version,
    const Fields& fields, RecordQueue& queue, std::chrono::steady_clock::duration writeTimeout);

// Completes when the peer closes or resets `socket`, discarding what it reads:
// a streaming response's client sends nothing more, so a read ending is the
// only sign that it went away.
boost::asio::awaitable<void> watchPeer(boost::asio::ip::tcp::socket& socket);

}  // namespace nucleo::recordio
