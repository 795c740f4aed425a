#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/fs.hpp"
#include "base/unique_fd.hpp"
#include "images/layer_unpack.hpp"
#include "images/tests/test_util.hpp"

namespace nucleo::images {
namespace {

using test::TarEntry;

struct Unpacked {
  std::string dir;
  Result<UnpackStats> result;
};

Unpacked unpack(const std::string& tar, UnpackOptions options = {false, false}) {
  std::string dir = test::tempDir();
  std::string file = dir + ".tar";
  (void)fs::writeFileAtomic(file, tar);
  auto fd = UniqueFd::open(file, O_RDONLY);
  auto dfd = UniqueFd::open(dir, O_RDONLY | O_DIRECTORY);
  auto r = unpackLayer(fd->get(), dfd->get(), options, "layer");
  ::unlink(file.c_str());
  return {dir, std::move(r)};
}

TEST(SplitEntryName, RefusesEscapes) {
  EXPECT_FALSE(splitEntryName("../etc/passwd"));
  EXPECT_FALSE(splitEntryName("a/../../b"));
  EXPECT_FALSE(splitEntryName("/etc/passwd"));
  auto ok = splitEntryName("./usr//bin/");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<std::string>{"usr", "bin"}));
}

TEST(Unpack, FilesDirsSymlinksHardlinksModesAcrossCompressions) {
  std::vector<TarEntry> entries = {
      {"./bin", AE_IFDIR, "", 0755},
      {"./bin/tool", AE_IFREG, "#!/bin/sh\n", 04755},
      {"./bin/link", AE_IFLNK, "tool"},
      {"./bin/hard", AE_IFREG, "bin/tool", 0644, true},
      {"deep/dir/file", AE_IFREG, "x", 0600},  // parents not in the archive
  };
  for (std::string filter : {"", "gzip", "zstd"}) {
    auto u = unpack(test::makeTar(entries, filter));
    ASSERT_TRUE(u.result) << filter << ": " << u.result.error().message;
    EXPECT_EQ(u.result->entries, 5u);
    EXPECT_EQ(*fs::readFile(u.dir + "/bin/tool"), "#!/bin/sh\n");
    struct stat a, b;
    ASSERT_EQ(::stat((u.dir + "/bin/tool").c_str(), &a), 0);
    ASSERT_EQ(::stat((u.dir + "/bin/hard").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << "hard link kept";
    EXPECT_EQ(a.st_mode & 07777, 04755u);
    EXPECT_EQ(a.st_mtime, 1700000000);
    char target[64] = {};
    ASSERT_GT(::readlink((u.dir + "/bin/link").c_str(), target, sizeof target), 0);
    EXPECT_STREQ(target, "tool");
    EXPECT_EQ(*fs::readFile(u.dir + "/deep/dir/file"), "x");
    (void)fs::removeAll(u.dir);
  }
}

TEST(Unpack, RefusesDotDotAndAbsoluteNames) {
  for (std::string name : {"../escape", "/abs/escape"}) {
    auto u = unpack(test::makeTar({{name, AE_IFREG, "x"}}));
    ASSERT_FALSE(u.result) << name;
    EXPECT_NE(u.result.error().message.find("refused"), std::string::npos) << u.result.error().message;
    (void)fs::removeAll(u.dir);
  }
  EXPECT_FALSE(fs::exists("/tmp/escape"));
}

TEST(Unpack, RefusesWritingThroughASymlinkedParent) {
  std::string outside = test::tempDir();
  auto u = unpack(test::makeTar({{"evil", AE_IFLNK, outside}, {"evil/pwned", AE_IFREG, "x"}}));
  ASSERT_FALSE(u.result);
  EXPECT_NE(u.result.error().message.find("entry 'evil/pwned'"), std::string::npos)
      << u.result.error().message;
  EXPECT_FALSE(fs::exists(outside + "/pwned"));
  (void)fs::removeAll(u.dir);
  (void)fs::removeAll(outside);
}

TEST(Unpack, RefusesHardlinkOutside) {
  auto u = unpack(test::makeTar({{"x", AE_IFREG, "../../etc/passwd", 0644, true}}));
  EXPECT_FALSE(u.result);
  (void)fs::removeAll(u.dir);
}

TEST(Unpack, RefusesOverlayXattrs) {
  auto u = unpack(test::makeTar({{"d", AE_IFDIR, "", 0755, false, {{"trusted.overlay.redirect", "/etc"}}}}));
  ASSERT_FALSE(u.result);
  EXPECT_NE(u.result.error().message.find("trusted.overlay.redirect"), std::string::npos);
  (void)fs::removeAll(u.dir);
}

TEST(Unpack, CorruptArchiveIsAnError) {
  auto u = unpack(std::string(1000, 'z'));
  ASSERT_FALSE(u.result);
  EXPECT_NE(u.result.error().message.find("layer"), std::string::npos);
  (void)fs::removeAll(u.dir);
}

TEST(Unpack, ROOT_WhiteoutsBecomeOverlayWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod, trusted.* xattrs)";
  auto u = unpack(test::makeTar({{"etc", AE_IFDIR, "", 0755},
                                 {"etc/.wh.motd", AE_IFREG, ""},
                                 {"opt", AE_IFDIR, "", 0755},
                                 {"opt/.wh..wh..opq", AE_IFREG, ""},
                                 {"dev", AE_IFDIR, "", 0755},
                                 {"dev/null", AE_IFCHR, "", 0666}}),
                  UnpackOptions{true, true});
  ASSERT_TRUE(u.result) << u.result.error().message;
  EXPECT_EQ(u.result->whiteouts, 2u);
  struct stat st;
  ASSERT_EQ(::lstat((u.dir + "/etc/motd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
  EXPECT_FALSE(fs::exists(u.dir + "/etc/.wh.motd"));
  char value[4] = {};
  ASSERT_EQ(::getxattr((u.dir + "/opt").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(value[0], 'y');
  ASSERT_EQ(::lstat((u.dir + "/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  (void)fs::removeAll(u.dir);
}

}  // namespace
}  // namespace nucleo::images
