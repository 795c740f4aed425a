#include "sdk/stream_driver.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "sdk/http_common.hpp"
#include "sdk/recordio.hpp"

namespace nucleo::sdk::detail {

HttpHeaders callHeaders(Encoding encoding) {
  return {{"Content-Type", contentType(encoding)}, {"Accept", contentType(encoding)}};
}

boost::asio::awaitable<std::string> readEvents(HttpConnection& stream, Encoding encoding,
                                               google::protobuf::Message& event,
                                               const std::function<bool()>& onEvent,
                                               const std::string& peer) {
  RecordIoDecoder decoder;
  while (true) {
    auto bytes = co_await stream.readSome();
    if (!bytes) co_return bytes.error().message;
    if (bytes->empty()) co_return "the " + peer + " closed the event stream";
    if (Status fed = decoder.feed(*bytes); !fed) co_return fed.error().message;
    std::string record;
    while (decoder.next(&record)) {
      event.Clear();
      if (Status decoded = decode(record, encoding, &event); !decoded)
        co_return "undecodable event: " + decoded.error().message;
      if (!onEvent()) co_return "stopped";
    }
  }
}

boost::asio::awaitable<std::string> refusalReason(HttpConnection& stream, int status) {
  std::string body;
  while (body.size() <= 4096) {
    auto bytes = co_await stream.readSome();
    if (!bytes || bytes->empty()) break;
    body += *bytes;
  }
  co_return "SUBSCRIBE refused with HTTP " + std::to_string(status) + ": " + body;
}

boost::asio::awaitable<Result<HttpResponse>> postCall(HttpConnection& connection,
                                                      const Endpoint& endpoint,
                                                      const HttpHeaders& headers,
                                                      const std::string& body,
                                                      const std::function<bool()>& stopped) {
  for (int attempt = 0; attempt < 2 && !stopped(); ++attempt) {
    if (!connection.isOpen()) {
      Status connected = co_await connection.connect(endpoint.host, endpoint.port, kConnectTimeout);
      if (!connected) continue;
    }
    auto response = co_await connection.request(endpoint.path, headers, body, kRequestTimeout);
    if (response) co_return response;
  }
  co_return Error::make("could not reach {}:{}", endpoint.host, endpoint.port);
}

}  // namespace nucleo::sdk::detail
