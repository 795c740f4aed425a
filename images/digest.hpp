#pragma once
// Content digests: "sha256:<64 hex>" names every blob in the store, and every
// byte that enters it is hashed on the way in.

#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/sha256.hpp"

namespace nucleo::images {

// A parsed, validated digest. Only sha256 is accepted: it is what OCI and
// Docker registries use, and what the store's paths are named by.
struct Digest {
  std::string hex;  // 64 lowercase hex digits

  // Parses "sha256:<hex>"; other algorithms, bad lengths and uppercase hex
  // are an Error naming the text.
  static Result<Digest> parse(std::string_view text);
  std::string str() const { return "sha256:" + hex; }
  std::string shortId() const { return hex.substr(0, 12); }
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;
};

// True for exactly 64 lowercase hex digits (what Digest::hex holds).
bool isSha256Hex(std::string_view hex);

// Incremental SHA-256 (base/sha256.hpp); update() as bytes stream past.
class Sha256 {
 public:
  void update(const void* data, size_t size) { hash_.update(data, size); }
  // Finishes and returns the digest; the hasher must not be used again.
  Digest finish() { return Digest{hash_.hexDigest()}; }

 private:
  nucleo::Sha256 hash_;
};

// The digest of an in-memory byte string (manifests, configs).
Digest sha256Of(std::string_view bytes);

}  // namespace nucleo::images
