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

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Allocation failure of a few hundred bytes is not recoverable here.
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
}

void Sha256::update(const void* data, size_t size) {
  if (size) EVP_DigestUpdate(ctx_.get(), data, size);
}

Digest Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  static constexpr char HEX[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(HEX[md[i] >> 4]);
    hex.push_back(HEX[md[i] & 15]);
  }
  return Digest{std::move(hex)};
}

Digest sha256Of(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.finish();
}

}  // namespace nucleo::images
