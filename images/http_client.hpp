#pragma once
// A small synchronous HTTP/1.1 client for registry pulls. The Boost.Beast
// implementation lives in http_client_beast.cpp only (one translation unit is
// expensive to compile); everything else talks to this interface, and tests
// can substitute their own.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace nucleo::images {

// "scheme://host[:port]/target" split into parts. Only http and https.
struct Url {
  std::string scheme, host, port, target;  // target starts with '/'

  // The URL back as text, with the port only when it is not the default.
  std::string str() const;
  // "host" or "host:port" when the port is not the scheme's default.
  std::string authority() const;
};

// Parses an absolute http(s) URL; anything else is an Error naming the text.
Result<Url> parseUrl(std::string_view text);
// Resolves a Location header against the URL it came from (absolute URLs,
// absolute paths and "?query" forms).
Result<Url> resolveUrl(const Url& base, std::string_view location);
// Percent-encodes a query parameter value.
std::string urlEncode(std::string_view text);

// One request; `headers` are sent as given, after Host, User-Agent and
// Connection: close (one connection per request).
struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The status line and headers, and the body when no sink took it.
struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
  std::string body;  // empty when the body went to a sink

  // The first header named `name` (lowercase), or "".
  std::string header(std::string_view name) const;
};

// Receives a body's bytes in order; an Error aborts the transfer.
using BodySink = std::function<Status(const char* data, size_t size)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `request` and reads the response. When `sink` is set and the
  // status is 200 or 206, the body streams into it; otherwise the body is
  // collected into HttpResponse::body (up to 16 MiB, more is an Error).
  // Redirects are not followed. A connection lost before the body's end is
  // an Error naming the URL and the bytes received.
  virtual Result<HttpResponse> send(const HttpRequest& request, const BodySink& sink = {}) = 0;
};

struct HttpClientOptions {
  // PEM bundle for https; empty means $SSL_CERT_FILE, else the system store.
  std::string caFile;
  // Verify the server's certificate and name (off only for tests).
  bool verifyTls = true;
  // No single read or connect may take longer than this.
  int timeoutSeconds = 60;
};

// The Boost.Beast client: plain TCP for http, OpenSSL for https.
std::unique_ptr<HttpClient> makeHttpClient(const HttpClientOptions& options = {});

// RFC 4648 base64, for Basic auth and docker config.json "auth" fields.
std::string base64Encode(std::string_view bytes);
// Decodes base64 (padding optional); invalid input is an Error.
Result<std::string> base64Decode(std::string_view text);

}  // namespace nucleo::images
