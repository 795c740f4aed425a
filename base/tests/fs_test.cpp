#include "base/fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
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

namespace nucleo {
namespace {

TEST(Fs, MakeDirsCreatesEveryLevelWithItsMode) {
  char tmpl[] = "/tmp/nucleo-fs-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/a/b/c";
  mode_t old = ::umask(0);
  ASSERT_TRUE(fs::makeDirs(dir, 0700));
  ASSERT_TRUE(fs::makeDirs(dir, 0700));  // existing: fine
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat((std::string(tmpl) + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_TRUE(fs::writeFileAtomic(dir + "/f", "x"));
  auto notDir = fs::makeDirs(dir + "/f/g");
  ASSERT_FALSE(notDir);
  EXPECT_NE(notDir.error().message.find(dir + "/f"), std::string::npos);
  ASSERT_TRUE(fs::removeAll(tmpl));
}

}  // namespace
}  // namespace nucleo
