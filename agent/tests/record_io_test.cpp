#include <gtest/gtest.h>

#include "agent/master_link.hpp"

namespace nucleo::agent {
namespace {

TEST(RecordIoDecoderTest, RecordsSplitAnywhere) {
  std::string stream = "5\nhello3\nabc0\n11\nhello world";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    RecordIoDecoder d;
    std::vector<std::string> out;
    ASSERT_TRUE(d.feed(stream.substr(0, cut), out));
    ASSERT_TRUE(d.feed(stream.substr(cut), out));
    ASSERT_EQ(out.size(), 4u) << cut;
    EXPECT_EQ(out[0], "hello");
    EXPECT_EQ(out[1], "abc");
    EXPECT_EQ(out[2], "");
    EXPECT_EQ(out[3], "hello world");
  }
}

TEST(RecordIoDecoderTest, MalformedLengthsAreRejected) {
  std::vector<std::string> out;
  EXPECT_FALSE(RecordIoDecoder().feed("x\nabc", out));
  EXPECT_FALSE(RecordIoDecoder().feed("\nabc", out));
  EXPECT_FALSE(RecordIoDecoder().feed(std::string(30, '9'), out));  // no newline in sight
  EXPECT_FALSE(RecordIoDecoder().feed("99999999999\n", out, 1024));  // over the limit
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace nucleo::agent
