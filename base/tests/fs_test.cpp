#include "base/fs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace nucleo {
namespace {

TEST(Fs, AtomicWriteReplacesContentAndLeavesNoTemporary) {
  char tmpl[] = "/tmp/nucleo-fs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string file = dir + "/state.json";
  ASSERT_TRUE(fs::writeFileAtomic(file, "one"));
  ASSERT_TRUE(fs::writeFileAtomic(file, "two"));
  EXPECT_EQ(*fs::readFile(file), "two");
  EXPECT_FALSE(fs::exists(file + ".tmp-" + std::to_string(::getpid())));
  ASSERT_TRUE(fs::removeAll(dir));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(Fs, ReadMissingFileNamesThePath) {
  auto r = fs::readFile("/nonexistent/nucleo");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'/nonexistent/nucleo'"), std::string::npos);
  EXPECT_EQ(r.error().code, ENOENT);
}

}  // namespace
}  // namespace nucleo
