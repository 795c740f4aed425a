// OpenSSL's one-algorithm SHA256_* interface, deprecated in 3.0 but kept: it
// links ~25 KB out of the static libcrypto, where EVP would pull in the
// provider machinery (megabytes) or a libcrypto.so whose load costs every
// container start thousands of symbol bindings.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "base/sha256.hpp"

#include <openssl/sha.h>

namespace nucleo {

struct Sha256::State {
  SHA256_CTX ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) { ::SHA256_Init(&state_->ctx); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) { ::SHA256_Update(&state_->ctx, data, size); }

std::string Sha256::hexDigest() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  ::SHA256_Final(md, &state_->ctx);
  static const char digits[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  return out;
}

std::string Sha256::hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hexDigest();
}

}  // namespace nucleo
