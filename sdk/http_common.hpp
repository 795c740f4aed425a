#pragma once
// Shared by the SDK's scheduler and executor clients: encoding of calls and
// events, HTTP Basic credentials, host:port parsing.

#include <string>
#include <string_view>
#include <utility>

#include <google/protobuf/message.h>

#include "base/result.hpp"
#include "sdk/scheduler.hpp"

namespace nucleo::sdk {

// "host:port" (or "[v6]:port"); the port defaults to `defaultPort`.
Result<std::pair<std::string, std::string>> splitHostPort(std::string_view address,
                                                          std::string_view defaultPort);

std::string contentType(Encoding encoding);
std::string encode(const google::protobuf::Message& message, Encoding encoding);
Status decode(std::string_view body, Encoding encoding, google::protobuf::Message* message);

// "Basic base64(principal:secret)".
std::string basicAuthorization(const Credential& credential);

}  // namespace nucleo::sdk
