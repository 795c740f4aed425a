#include "agent/files/sandbox_files.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

constexpr const char* RUN = "/frameworks/F/executors/E/runs/latest";

class SandboxFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sandbox_files_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(fs::makeDirs(dir_ + "/sub"));
    write("stdout", "hello world\n");
    write("sub/data", "abc");
    files_.attach(RUN, dir_);
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  void write(const std::string& name, const std::string& content, mode_t mode = 0644) {
    ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/" + name, content, mode, fs::Durability::Volatile));
  }
  void symlink(const std::string& target, const std::string& name) {
    ASSERT_EQ(::symlink(target.c_str(), (dir_ + "/" + name).c_str()), 0);
  }
  std::string path(const std::string& rest) { return std::string(RUN) + rest; }

  std::string dir_;
  SandboxFiles files_;
};

TEST_F(SandboxFilesTest, BrowseListsEntriesWithVirtualPaths) {
  ASSERT_EQ(::chmod((dir_ + "/sub").c_str(), 02755), 0);
  auto entries = files_.browse(std::string(RUN) + "/");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  const FileEntry& out = (*entries)[0];
  EXPECT_EQ(out.path, path("/stdout"));
  EXPECT_EQ(out.mode, "-rw-r--r--");
  EXPECT_EQ(out.size, 12u);
  EXPECT_EQ(out.nlink, 1u);
  EXPECT_NEAR(out.mtime, static_cast<double>(::time(nullptr)), 60);
  if (::getuid() == 0) {
    EXPECT_EQ(out.uid, "root");
    EXPECT_EQ(out.gid, "root");
  }
  EXPECT_EQ((*entries)[1].path, path("/sub"));
  EXPECT_EQ((*entries)[1].mode, "drwxr-sr-x");

  auto sub = files_.browse(path("/./sub"));
  ASSERT_TRUE(sub) << sub.error().message;
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0].path, path("/sub/data"));
}

TEST_F(SandboxFilesTest, ReadsChunksAndTails) {
  auto chunk = files_.read(path("/stdout"), 6, 5);
  ASSERT_TRUE(chunk) << chunk.error().message;
  EXPECT_EQ(chunk->data, "world");
  EXPECT_EQ(chunk->offset, 6u);
  auto size = files_.read(path("/stdout"), -1, -1);
  ASSERT_TRUE(size);
  EXPECT_EQ(size->offset, 12u);
  EXPECT_EQ(size->data, "");
  auto all = files_.read(path("/stdout"), 0, -1);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->data, "hello world\n");
  auto past = files_.read(path("/stdout"), 100, 10);
  ASSERT_TRUE(past);
  EXPECT_EQ(past->data, "");
  EXPECT_EQ(past->offset, 12u);
  auto bad = files_.read(path("/stdout"), -2, 10);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EINVAL);
}

TEST_F(SandboxFilesTest, OpenForDownload) {
  auto file = files_.open(path("/sub/data"));
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->size, 3u);
  char buffer[8] = {};
  EXPECT_EQ(::read(file->fd.get(), buffer, sizeof(buffer)), 3);
  EXPECT_EQ(std::string(buffer), "abc");
  EXPECT_EQ(files_.open(path("/sub")).error().code, EISDIR);
  EXPECT_EQ(files_.open(path("/../x")).error().code, EINVAL);
}

TEST_F(SandboxFilesTest, HugeLengthIsCapped) {
  write("big", std::string(3 << 20, 'x'));
  auto chunk = files_.read(path("/big"), 0, int64_t{1} << 40);
  ASSERT_TRUE(chunk) << chunk.error().message;
  EXPECT_EQ(chunk->data.size(), SandboxFiles::MAX_READ_BYTES);
  chunk = files_.read(path("/big"), (3 << 20) - 10, INT64_MAX);
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->data.size(), 10u);
}

TEST_F(SandboxFilesTest, DotDotIsRefused) {
  for (const char* rest : {"/../../../../etc/passwd", "/sub/../../E/x", "/.."}) {
    auto chunk = files_.read(path(rest), 0, 100);
    ASSERT_FALSE(chunk) << rest;
    EXPECT_EQ(chunk.error().code, EINVAL) << rest;
    EXPECT_NE(chunk.error().message.find("'..' refused"), std::string::npos);
  }
}

TEST_F(SandboxFilesTest, SymlinksStayInsideTheSandbox) {
  symlink("/etc/passwd", "abs");
  symlink("../../../../../../../etc/passwd", "rel");
  symlink("/etc", "etcdir");
  symlink("sub/data", "inside");
  for (const char* name : {"/abs", "/rel"}) {
    auto chunk = files_.read(path(name), 0, 4096);
    ASSERT_FALSE(chunk) << name << " read the host's: " << chunk->data;
    EXPECT_EQ(chunk.error().code, ENOENT) << chunk.error().message;
  }
  auto etc = files_.browse(path("/etcdir"));
  ASSERT_FALSE(etc);
  EXPECT_EQ(etc.error().code, ENOENT);
  // The links resolve against the sandbox as "/": its own etc/passwd.
  ASSERT_TRUE(fs::makeDirs(dir_ + "/etc"));
  write("etc/passwd", "sandbox's own\n");
  for (const char* name : {"/abs", "/rel"}) {
    auto chunk = files_.read(path(name), 0, 4096);
    ASSERT_TRUE(chunk) << chunk.error().message;
    EXPECT_EQ(chunk->data, "sandbox's own\n");
  }
  auto inside = files_.read(path("/inside"), 0, 10);
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->data, "abc");
  // Listed as links, not as what they point at.
  auto entries = files_.browse(RUN);
  ASSERT_TRUE(entries);
  for (const auto& e : *entries)
    if (e.path == path("/abs")) {
      EXPECT_EQ(e.mode, "lrwxrwxrwx");
    }
}

TEST_F(SandboxFilesTest, ProcMagicLinksAreRefused) {
  files_.attach("/proc-self", "/proc/self");
  for (const char* p : {"/proc-self/root/etc/passwd", "/proc-self/cwd", "/proc-self/exe"}) {
    auto chunk = files_.read(p, 0, 4096);
    ASSERT_FALSE(chunk) << p;
    EXPECT_EQ(chunk.error().code, EACCES) << p << ": " << chunk.error().message;
  }
  auto root = files_.browse("/proc-self/root");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, EACCES);
}

TEST_F(SandboxFilesTest, WrongKindsAndUnknownPaths) {
  auto unknown = files_.browse("/frameworks/other");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ENOENT);
  EXPECT_EQ(files_.read(path("/missing"), 0, 1).error().code, ENOENT);
  EXPECT_EQ(files_.read(path("/sub"), 0, 1).error().code, EISDIR);
  EXPECT_EQ(files_.browse(path("/stdout")).error().code, ENOTDIR);
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0644), 0);
  auto start = std::chrono::steady_clock::now();
  auto fifo = files_.read(path("/fifo"), 0, 10);
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().code, EINVAL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  files_.detach(std::string(RUN) + "/");
  EXPECT_EQ(files_.read(path("/stdout"), 0, 1).error().code, ENOENT);
}

TEST_F(SandboxFilesTest, LongestAttachedPrefixWins) {
  char tmpl[] = "/tmp/sandbox_files_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string other = tmpl;
  ASSERT_TRUE(fs::writeFileAtomic(other + "/only-here", "x"));
  files_.attach(path("/sub"), other);
  auto entries = files_.browse(path("/sub"));
  (void)fs::removeAll(other);
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, path("/sub/only-here"));
}

TEST(SandboxFilesJson, MesosShapes) {
  FileEntry e{"/s/a \"q\"", "-rw-r--r--", 5, 1, 1700000000, "root", "root"};
  EXPECT_EQ(SandboxFiles::browseJson({e}),
            "[{\"gid\":\"root\",\"mode\":\"-rw-r--r--\",\"mtime\":1700000000,\"nlink\":1,"
            "\"path\":\"/s/a \\\"q\\\"\",\"size\":5,\"uid\":\"root\"}]");
  EXPECT_EQ(SandboxFiles::browseJson({}), "[]");
  SandboxFiles::Chunk chunk{7, std::string("a\n\x01\\\xc3\xa9\xff", 7)};
  EXPECT_EQ(SandboxFiles::readJson(chunk),
            "{\"data\":\"a\\n\\u0001\\\\\xc3\xa9\\u00ff\",\"offset\":7}");
}

}  // namespace
}  // namespace nucleo::agent
