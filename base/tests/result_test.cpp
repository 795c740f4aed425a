#include "base/result.hpp"

#include <gtest/gtest.h>

#include "base/strings.hpp"

namespace nucleo {
namespace {

Result<int> half(int v) {
  if (v % 2) return Error::make("{} is odd", v);
  return v / 2;
}

Result<int> quarter(int v) {
  TRY_ASSIGN(int h, half(v));
  TRY_ASSIGN(int q, half(h).context("halving {}", h));
  return q;
}

TEST(Result, PropagatesErrorsWithContext) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "halving 3: 3 is odd");
}

TEST(Result, FromErrnoKeepsCode) {
  Error e = Error::fromErrno("mount '/x'", ENOENT);
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "mount '/x': No such file or directory");
}

TEST(Result, VoidStatus) {
  auto fail = []() -> Status { return Error::make("nope"); };
  auto wrap = [&]() -> Status {
    TRY(fail());
    return ok();
  };
  EXPECT_FALSE(wrap());
  EXPECT_TRUE(Status());
}

TEST(Strings, SplitAndNumbers) {
  EXPECT_EQ(strings::split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(strings::split("a,,b", ',', true), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(strings::toInt(" -12\n"), -12);
  EXPECT_FALSE(strings::toInt("12x"));
  EXPECT_FALSE(strings::toUint(""));
}

}  // namespace
}  // namespace nucleo
