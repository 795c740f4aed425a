#pragma once
// One HTTP/1.1 client connection (plain or TLS) with C++20-coroutine calls,
// for the SDK's scheduler and executor drivers. The only file of the SDK that
// sees Beast is http_client.cpp.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "base/result.hpp"

namespace nucleo::sdk {

struct TlsOptions {
  bool enabled = false;
  std::string caFile;  // empty: the system's CA store
};

struct HttpResponseHead {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
};

struct HttpResponse {
  HttpResponseHead head;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpConnection {
 public:
  HttpConnection(boost::asio::any_io_executor executor, TlsOptions tls);
  ~HttpConnection();

  bool isOpen() const;
  boost::asio::awaitable<Status> connect(std::string host, std::string port,
                                         std::chrono::milliseconds timeout);
  // A whole request and response (keep-alive). The connection is closed on
  // any error. `method` is POST unless given ("GET").
  boost::asio::awaitable<Result<HttpResponse>> request(std::string target, HttpHeaders headers,
                                                       std::string body,
                                                       std::chrono::milliseconds timeout,
                                                       std::string method = "POST");
  // Sends a request and reads only the response head: the body is then read
  // with readSome() (a streaming response such as SUBSCRIBE's).
  boost::asio::awaitable<Result<HttpResponseHead>> openStream(std::string target,
                                                              HttpHeaders headers,
                                                              std::string body,
                                                              std::chrono::milliseconds timeout);
  // The next bytes of a streamed body (chunk boundaries not preserved); an
  // empty string at the end of the body. No timeout: close() cancels it.
  boost::asio::awaitable<Result<std::string>> readSome();
  // Closes the socket; a pending operation completes with an error.
  void close();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One blocking request on a new connection (its own io_context): for
// command-line tools. `address` is host:port (default port 80, 443 with TLS).
Result<HttpResponse> httpRequest(const std::string& address, const std::string& method,
                                 const std::string& target, const HttpHeaders& headers,
                                 const std::string& body, std::chrono::milliseconds timeout,
                                 const TlsOptions& tls = {});

}  // namespace nucleo::sdk
