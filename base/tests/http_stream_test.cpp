#include "base/http_stream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace nucleo::recordio {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::seconds;

asio::awaitable<void> serveThenClose(boost::beast::tcp_stream& server, const Fields& fields,
                                     RecordQueue& queue, bool* ended) {
  co_await serveRecords(server, 11, fields, queue, seconds(5));
  *ended = true;
  server.close();
}

asio::awaitable<void> readAll(tcp::socket& client, std::string* got) {
  co_await asio::async_read(client, asio::dynamic_buffer(*got),
                            asio::as_tuple(asio::use_awaitable));
}

TEST(RecordQueue, RefusesRecordsBeyondTheLimitAndAfterClose) {
  asio::io_context io;
  auto queue = std::make_shared<RecordQueue>(io.get_executor(), 2);
  EXPECT_TRUE(queue->push("a"));
  EXPECT_TRUE(queue->push("b"));
  EXPECT_FALSE(queue->push("c")) << "a reader that does not keep up is dropped";
  EXPECT_FALSE(queue->closed());
  queue->close();
  EXPECT_TRUE(queue->closed());
  EXPECT_FALSE(queue->push("d"));
}

// A connected loopback pair: `server` streams records to `client`.
class ServeRecords : public ::testing::Test {
 protected:
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  tcp::socket client{io};
  boost::beast::tcp_stream server{connect()};
  std::shared_ptr<RecordQueue> queue = std::make_shared<RecordQueue>(io.get_executor(), 10);

 private:
  tcp::socket connect() {
    client.connect(acceptor.local_endpoint());
    return acceptor.accept();
  }
};

// The exact bytes a subscriber reads: head fields in order, one RecordIO
// record per chunk, then the last chunk once the queue closes.
TEST_F(ServeRecords, WritesChunkedRecordIoAndEndsWithTheLastChunk) {
  ASSERT_TRUE(queue->push("{\"type\":\"SUBSCRIBED\"}"));
  ASSERT_TRUE(queue->push(std::string(20, 'x')));
  queue->close();
  Fields fields{{"Content-Type", "application/json"}, {"Mesos-Stream-Id", "s-1"}};
  bool ended = false;
  std::string got;
  asio::co_spawn(io, serveThenClose(server, fields, *queue, &ended), asio::detached);
  asio::co_spawn(io, readAll(client, &got), asio::detached);
  io.run_for(seconds(10));
  EXPECT_TRUE(ended);
  EXPECT_EQ(got,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMesos-Stream-Id: s-1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "18\r\n21\n{\"type\":\"SUBSCRIBED\"}\r\n"
            "17\r\n20\nxxxxxxxxxxxxxxxxxxxx\r\n"
            "0\r\n\r\n");
}

// A subscriber that hangs up ends the stream even while nothing is queued.
TEST_F(ServeRecords, EndsWhenThePeerHangsUp) {
  bool ended = false;
  Fields none;
  asio::co_spawn(io, serveThenClose(server, none, *queue, &ended), asio::detached);
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(ended);
  client.close();
  io.run_for(seconds(5));
  EXPECT_TRUE(ended);
}

}  // namespace
}  // namespace nucleo::recordio
