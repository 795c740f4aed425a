#include "sdk/http_common.hpp"

#include <openssl/evp.h>

#include "proto/json.hpp"

namespace nucleo::sdk {

Result<std::pair<std::string, std::string>> splitHostPort(std::string_view address,
                                                          std::string_view defaultPort) {
  std::string text(address);
  for (std::string_view scheme : {"http://", "https://"})
    if (text.starts_with(scheme)) text.erase(0, scheme.size());
  if (auto slash = text.find('/'); slash != std::string::npos) text.resize(slash);
  if (text.empty()) return Error::make("master address '{}' has no host", address);
  std::string host = text, port(defaultPort);
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) return Error::make("address '{}': unclosed '['", address);
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return Error::make("address '{}': expected ':' after ']'", address);
      port = text.substr(close + 2);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
    return Error::make("address '{}': bad port '{}'", address, port);
  return std::pair{host, port};
}

std::string contentType(Encoding encoding) {
  return encoding == Encoding::Json ? "application/json" : "application/x-protobuf";
}

std::string encode(const google::protobuf::Message& message, Encoding encoding) {
  if (encoding == Encoding::Json) return proto::toJson(message);
  return message.SerializeAsString();
}

Status decode(std::string_view body, Encoding encoding, google::protobuf::Message* message) {
  if (encoding == Encoding::Json) return proto::fromJson(body, message);
  return proto::fromBinary(body, message);
}

std::string basicAuthorization(const Credential& credential) {
  std::string plain = credential.principal + ":" + credential.secret;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                               reinterpret_cast<const unsigned char*>(plain.data()),
                               static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(length));
  return "Basic " + encoded;
}

}  // namespace nucleo::sdk
