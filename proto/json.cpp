#include "proto/json.hpp"

#include <google/protobuf/util/json_util.h>

namespace nucleo::proto {
namespace {

void appendEscape(std::string& out, uint32_t unit) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xf];
}

// Rewrites every non-ASCII character as \uXXXX (a surrogate pair above
// U+FFFF): some Mesos clients count characters where the RecordIO length
// counts bytes, and an all-ASCII record makes both the same. Non-ASCII bytes
// only occur inside JSON strings, so a pass over the whole text is safe; an
// invalid sequence becomes U+FFFD.
std::string escapeNonAscii(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size();) {
    auto c = static_cast<unsigned char>(json[i]);
    if (c < 0x80) {
      out += json[i++];
      continue;
    }
    int length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t code = length == 4 ? c & 0x07 : length == 3 ? c & 0x0f : c & 0x1f;
    bool valid = length != 0 && i + length <= json.size();
    for (int k = 1; valid && k < length; ++k) {
      auto next = static_cast<unsigned char>(json[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3f);
    }
    if (!valid || code > 0x10ffff) {
      appendEscape(out, 0xfffd);
      ++i;
      continue;
    }
    if (code >= 0x10000) {
      code -= 0x10000;
      appendEscape(out, 0xd800 + (code >> 10));
      appendEscape(out, 0xdc00 + (code & 0x3ff));
    } else {
      appendEscape(out, code);
    }
    i += length;
  }
  return out;
}

}  // namespace

Status fromJson(std::string_view json, google::protobuf::Message* message) {
  message->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return Error::make("invalid JSON for {}: {}", message->GetTypeName(),
                       std::string(status.message()));
  }
  return {};
}

std::string toJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = false;
  std::string out;
  // Printing a valid message cannot fail; an empty object is the fallback.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok())
    return "{}";
  for (char c : out) {
    if (static_cast<unsigned char>(c) >= 0x80) return escapeNonAscii(out);
  }
  return out;
}

Status fromBinary(std::string_view data, google::protobuf::Message* message) {
  message->Clear();
  if (!message->ParsePartialFromArray(data.data(), static_cast<int>(data.size())))
    return Error::make("invalid protobuf for {}", message->GetTypeName());
  return {};
}

}  // namespace nucleo::proto
