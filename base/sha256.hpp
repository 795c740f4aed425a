#pragma once
// SHA-256 (OpenSSL's implementation) for content addressing: the seccomp BPF
// cache, image blobs and layers. Streaming, so a layer is hashed as it flows.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nucleo {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The digest as 64 lowercase hex characters; the object is spent after it.
  std::string hexDigest();

  static std::string hex(std::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nucleo
