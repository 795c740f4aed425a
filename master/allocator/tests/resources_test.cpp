#include <gtest/gtest.h>

#include "master/allocator/resources.hpp"

namespace nucleo::master {
namespace {

Resources R(const char* text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : Resources{};
}

TEST(Resources, ParseAndPrint) {
  auto r = R("cpus:2.5;mem:1024;ports:[31000-31009,31010-31020];zones:{b,a}");
  EXPECT_EQ(r.toString(), "cpus:2.5;mem:1024;ports:[31000-31020];zones:{a,b}");
  EXPECT_DOUBLE_EQ(r.quantity("ports"), 21);
  EXPECT_DOUBLE_EQ(r.quantity("cpus"), 2.5);
  EXPECT_DOUBLE_EQ(r.quantity("gpus"), 0);
}

TEST(Resources, ParseErrorsNameTheItem) {
  for (const char* bad : {"cpus", "cpus:x", "cpus:-1", "ports:[5-1]", ":3", "ports:[a-b]", "ports:[0-x]", "ports:[7]"}) {
    auto r = Resources::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("resource"), std::string::npos);
  }
}

TEST(Resources, ScalarsKeepThreeDecimals) {
  Resources r;
  for (int i = 0; i < 10; ++i) r.addScalar("cpus", 0.1);
  EXPECT_TRUE(r == R("cpus:1"));  // no floating drift
  r -= R("cpus:0.3");
  EXPECT_DOUBLE_EQ(r.quantity("cpus"), 0.7);
}

TEST(Resources, SubtractAndContainRanges) {
  auto total = R("cpus:4;ports:[31000-32000]");
  auto used = R("cpus:1;ports:[31000-31000,31500-31600]");
  ASSERT_TRUE(total.contains(used));
  auto left = total - used;
  EXPECT_EQ(left.toString(), "cpus:3;ports:[31001-31499,31601-32000]");
  EXPECT_FALSE(left.contains(R("ports:[31500-31500]")));
  EXPECT_TRUE(left.contains(R("ports:[31700-31800]")));
  EXPECT_TRUE((left + used) == total);
}

TEST(Resources, SubtractNeverGoesNegative) {
  auto r = R("cpus:1;mem:10") - R("cpus:2;disk:5");
  EXPECT_EQ(r.toString(), "mem:10");
  EXPECT_TRUE((R("cpus:1") - R("cpus:1")).empty());
}

}  // namespace
}  // namespace nucleo::master
