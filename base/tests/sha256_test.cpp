#include "base/sha256.hpp"

#include <gtest/gtest.h>

namespace nucleo {
namespace {

TEST(Sha256, KnownVectorsAndStreaming) {
  EXPECT_EQ(Sha256::hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hexDigest(), Sha256::hex("abc"));
}

}  // namespace
}  // namespace nucleo
