#pragma once
// JSON in the dialect of Mesos's HTTP APIs, through protobuf's own JSON
// utilities: snake_case proto field names, enums by name, unknown keys
// ignored, bytes as base64. 64-bit integers are written as JSON strings
// (protobuf's choice), which Mesos clients accept.

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "base/result.hpp"

namespace nucleo::proto {

// Parses `json` into `message` (cleared first). Unknown keys and unknown enum
// names are ignored, null means unset. Errors name protobuf's reason.
Status fromJson(std::string_view json, google::protobuf::Message* message);

// Serializes `message` as compact JSON with proto field names, all ASCII
// (non-ASCII characters as \u escapes).
std::string toJson(const google::protobuf::Message& message);

// Parses a binary protobuf body into `message`; fails on malformed input.
Status fromBinary(std::string_view data, google::protobuf::Message* message);

}  // namespace nucleo::proto
