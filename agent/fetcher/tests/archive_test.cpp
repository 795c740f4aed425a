#include "agent/fetcher/archive.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <set>

#include "agent/fetcher/tests/archive_maker.hpp"
#include "base/fs.hpp"

namespace nucleo::agent::fetcher {
namespace {

using nucleo::testing::ArchiveMember;
using nucleo::testing::makeArchive;

std::set<std::string> listDir(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fetcher_archive_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(fs::makeDirs(dir_ + "/out"));
  }
  void TearDown() override { (void)fs::removeAll(dir_); }

  Result<ExtractStats> extract(const std::string& bytes) {
    EXPECT_FALSE(bytes.empty());
    EXPECT_TRUE(fs::writeFileAtomic(dir_ + "/a", bytes));
    auto in = UniqueFd::open(dir_ + "/a", O_RDONLY);
    auto out = UniqueFd::open(dir_ + "/out", O_RDONLY | O_DIRECTORY);
    EXPECT_TRUE(in && out);
    return extractArchive(in->get(), out->get());
  }
  std::string read(const std::string& name) {
    auto r = fs::readFile(dir_ + "/out/" + name);
    return r ? *r : "<missing>";
  }
  std::string dir_;
};

TEST(IsArchive, MesosExtensions) {
  for (const char* yes : {"a.tar", "a.tar.gz", "a.tgz", "a.tar.bz2", "a.tbz2", "a.tar.xz",
                          "a.txz", "a.tar.zst", "a.zip"})
    EXPECT_TRUE(isArchive(yes)) << yes;
  for (const char* no : {"a.gz", "a.txt", "tar", ".zip", "a.tar.gz.sig", "script.sh"})
    EXPECT_FALSE(isArchive(no)) << no;
}

TEST_F(ArchiveTest, EveryFormatExtracts) {
  std::vector<ArchiveMember> members = {{"bin", "", 'd', 0755},
                                        {"bin/run.sh", "#!/bin/sh\necho hi\n", 'f', 0755},
                                        {"./README", "read me", 'f', 0644},
                                        {"bin/link", "run.sh", 'l', 0777},
                                        {"bin/hard", "bin/run.sh", 'h', 0755}};
  for (std::string kind : {"tar", "tar.gz", "tgz", "tar.bz2", "tar.xz", "tar.zst", "zip"}) {
    SCOPED_TRACE(kind);
    ASSERT_TRUE(fs::removeAll(dir_ + "/out") && fs::makeDirs(dir_ + "/out"));
    auto stats = extract(makeArchive(kind, members));
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(read("bin/run.sh"), "#!/bin/sh\necho hi\n");
    EXPECT_EQ(read("README"), "read me");
    struct stat st;
    ASSERT_EQ(::stat((dir_ + "/out/bin/run.sh").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0755u);
    ASSERT_EQ(::lstat((dir_ + "/out/bin/link").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    if (kind != "zip") {  // zip has no hard links
      EXPECT_EQ(read("bin/hard"), "#!/bin/sh\necho hi\n");
    }
    EXPECT_EQ(listDir(dir_ + "/out"), (std::set<std::string>{"bin", "README"}));
  }
}

TEST_F(ArchiveTest, MergesWithWhatIsThere) {
  ASSERT_TRUE(fs::makeDirs(dir_ + "/out/conf"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/out/conf/keep", "kept"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/out/conf/over", "old"));
  auto stats = extract(makeArchive("tar", {{"conf/over", "new"}, {"conf/added", "added"}}));
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(read("conf/keep"), "kept");
  EXPECT_EQ(read("conf/over"), "new");
  EXPECT_EQ(read("conf/added"), "added");
}

TEST_F(ArchiveTest, TraversalIsRefusedAndLeavesNothing) {
  ASSERT_TRUE(fs::makeDirs(dir_ + "/outside"));
  struct Case {
    std::vector<ArchiveMember> members;
    const char* expect;
  } cases[] = {
      {{{"ok", "fine"}, {"../escape", "evil"}}, "'..' refused"},
      {{{"ok", "fine"}, {"sub/../../escape", "evil"}}, "'..' refused"},
      {{{"ok", "fine"}, {"/tmp/escape", "evil"}}, "absolute path refused"},
      {{{"ok", "fine"}, {"link", dir_ + "/outside", 'l'}, {"link/escape", "evil"}},
       "symlink or not a directory"},
      {{{"ok", "fine"}, {"hl", "../../etc/passwd", 'h'}}, "'..' refused"},
  };
  for (const auto& c : cases) {
    auto stats = extract(makeArchive("tar", c.members));
    ASSERT_FALSE(stats);
    EXPECT_NE(stats.error().message.find(c.expect), std::string::npos) << stats.error().message;
    EXPECT_NE(stats.error().message.find("entry '"), std::string::npos) << stats.error().message;
    EXPECT_EQ(listDir(dir_ + "/out"), std::set<std::string>{});  // not even "ok"
    EXPECT_EQ(listDir(dir_ + "/outside"), std::set<std::string>{});
    EXPECT_FALSE(fs::exists(dir_ + "/escape"));
  }
}

TEST_F(ArchiveTest, CorruptArchiveLeavesNothing) {
  std::string bytes = makeArchive("tar.gz", {{"a", std::string(200000, 'a')}, {"b", "b"}});
  auto stats = extract(bytes.substr(0, bytes.size() / 2));
  ASSERT_FALSE(stats);
  EXPECT_EQ(listDir(dir_ + "/out"), std::set<std::string>{});
  stats = extract("this is not an archive at all, not even close");
  ASSERT_FALSE(stats);
  EXPECT_EQ(listDir(dir_ + "/out"), std::set<std::string>{});
}

}  // namespace
}  // namespace nucleo::agent::fetcher
