#include "images/digest.hpp"

#include <cstdio>

namespace nucleo::images {

bool isSha256Hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<Digest> Digest::parse(std::string_view text) {
  constexpr std::string_view PREFIX = "sha256:";
  if (text.substr(0, PREFIX.size()) != PREFIX)
    return Error::make("digest '{}': only sha256 digests are supported", text);
  auto hex = text.substr(PREFIX.size());
  if (!isSha256Hex(hex))
    return Error::make("digest '{}': expected 64 lowercase hex digits", text);
  return Digest{std::string(hex)};
}

Digest sha256Of(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.finish();
}

}  // namespace nucleo::images
