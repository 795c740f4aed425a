// The parts of the HTTP client that need no Beast: URLs, headers, base64.
#include "images/http_client.hpp"

#include <cctype>

namespace nucleo::images {

static std::string defaultPort(std::string_view scheme) { return scheme == "https" ? "443" : "80"; }

std::string Url::authority() const {
  bool ipv6 = host.find(':') != std::string::npos;
  std::string h = ipv6 ? "[" + host + "]" : host;
  return port == defaultPort(scheme) ? h : h + ":" + port;
}

std::string Url::str() const { return scheme + "://" + authority() + target; }

Result<Url> parseUrl(std::string_view text) {
  Url url;
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return Error::make("URL '{}': no scheme", text);
  url.scheme = std::string(text.substr(0, sep));
  for (auto& c : url.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (url.scheme != "http" && url.scheme != "https")
    return Error::make("URL '{}': scheme '{}' is not http or https", text, url.scheme);
  std::string_view rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target[0] == '?') url.target = "/" + url.target;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return Error::make("URL '{}': unclosed '['", text);
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Error::make("URL '{}': no host", text);
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return Error::make("URL '{}': bad port '{}'", text, port);
  url.host = std::string(host);
  url.port = port.empty() ? defaultPort(url.scheme) : std::string(port);
  return url;
}

Result<Url> resolveUrl(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return parseUrl(location);
  Url out = base;
  if (location.substr(0, 2) == "//") return parseUrl(base.scheme + ":" + std::string(location));
  if (!location.empty() && location[0] == '/') {
    out.target = std::string(location);
  } else if (!location.empty() && location[0] == '?') {
    out.target = base.target.substr(0, base.target.find('?')) + std::string(location);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    out.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  return out;
}

std::string urlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

static constexpr std::string_view B64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(std::string_view bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += B64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += B64[(acc << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

Result<std::string> base64Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  for (size_t i = 0; i < end; ++i) {
    auto v = B64.find(text[i]);
    if (v == std::string_view::npos) return Error::make("base64: invalid character at offset {}", i);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace nucleo::images
