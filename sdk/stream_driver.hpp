#pragma once
// What the SDK's scheduler and executor drivers share on the wire: reading
// the RecordIO event stream of a subscription, the reason a SUBSCRIBE was
// refused, and sending one call with a retry. Internal to the SDK (installed
// only because the drivers' sources include it).

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <google/protobuf/message.h>

#include "base/result.hpp"
#include "sdk/http_client.hpp"
#include "sdk/scheduler.hpp"

namespace nucleo::sdk::detail {

inline constexpr std::chrono::seconds kConnectTimeout{10};
inline constexpr std::chrono::seconds kRequestTimeout{30};

// Where a driver's calls go: host, port and the API path.
struct Endpoint {
  std::string host, port, path;
};

// Content-Type and Accept for `encoding`.
HttpHeaders callHeaders(Encoding encoding);

// Reads records from an open event stream, decodes each into `event` and
// calls onEvent(), which returns false to stop reading. Returns why reading
// ended ("stopped" when onEvent() said so); `peer` ("master", "agent") names
// the other side in that reason.
boost::asio::awaitable<std::string> readEvents(HttpConnection& stream, Encoding encoding,
                                               google::protobuf::Message& event,
                                               const std::function<bool()>& onEvent,
                                               const std::string& peer);

// "SUBSCRIBE refused with HTTP <status>: <body>", reading at most about 4 KiB
// of the answer's body from `stream`.
boost::asio::awaitable<std::string> refusalReason(HttpConnection& stream, int status);

// POSTs `body` on the keep-alive `connection`, connecting it when closed; a
// dropped connection gets one more try on a new one. Gives up early when
// stopped() says so. The error says the endpoint could not be reached.
boost::asio::awaitable<Result<HttpResponse>> postCall(HttpConnection& connection,
                                                      const Endpoint& endpoint,
                                                      const HttpHeaders& headers,
                                                      const std::string& body,
                                                      const std::function<bool()>& stopped);

}  // namespace nucleo::sdk::detail
