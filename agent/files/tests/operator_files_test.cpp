#include "agent/files/operator_files.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "proto/json.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::agent::Call;
using mesos::v1::agent::Response;

// A work dir laid out as the agent's: <root>/frameworks/F/executors/E/runs/R1
// (older) and R2 (newest, the target of runs/latest).
class OperatorFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/operator_files_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    runs_ = root_ + "/slaves/S/frameworks/F/executors/E/runs";
    ASSERT_TRUE(fs::makeDirs(runs_ + "/R1", 0755));
    ASSERT_TRUE(fs::makeDirs(runs_ + "/R2/sub", 0755));
    ASSERT_EQ(::symlink("R2", (runs_ + "/latest").c_str()), 0);
    write(runs_ + "/R1/stdout", "old run\n");
    write(runs_ + "/R2/stdout", "0123456789");
    write(runs_ + "/R2/sub/data", "abc", 0600);
    attachSandboxes(files_, {runs_ + "/R1", runs_ + "/R2"});
  }
  void TearDown() override { (void)fs::removeAll(root_); }
  void write(const std::string& path, const std::string& content, mode_t mode = 0644) {
    ASSERT_TRUE(fs::writeFileAtomic(path, content, mode, fs::Durability::Volatile));
  }
  static Call listCall(const std::string& path) {
    Call c;
    c.set_type(Call::LIST_FILES);
    c.mutable_list_files()->set_path(path);
    return c;
  }
  static Call readCall(const std::string& path, uint64_t offset, std::optional<uint64_t> length) {
    Call c;
    c.set_type(Call::READ_FILE);
    c.mutable_read_file()->set_path(path);
    c.mutable_read_file()->set_offset(offset);
    if (length) c.mutable_read_file()->set_length(*length);
    return c;
  }

  std::string root_, runs_;
  SandboxFiles files_;
};

TEST_F(OperatorFilesTest, ListsTheNewestRunUnderMesosVirtualPath) {
  auto r = listFiles(files_, listCall("/frameworks/F/executors/E/runs/latest"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->type(), Response::LIST_FILES);
  ASSERT_EQ(r->list_files().file_infos_size(), 2);
  const auto& out = r->list_files().file_infos(0);
  EXPECT_EQ(out.path(), "/frameworks/F/executors/E/runs/latest/stdout");
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ(out.nlink(), 1);
  EXPECT_TRUE(S_ISREG(out.mode()));
  EXPECT_EQ(out.mode() & 07777, 0644u);
  EXPECT_EQ(out.uid(), "root");
  EXPECT_GT(out.mtime().nanoseconds(), 1'600'000'000LL * 1'000'000'000LL);
  EXPECT_TRUE(S_ISDIR(r->list_files().file_infos(1).mode()));
  // JSON as Mesos's clients read it.
  std::string json = proto::toJson(*r);
  EXPECT_NE(json.find("\"file_infos\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"type\":\"LIST_FILES\""), std::string::npos) << json;
}

TEST_F(OperatorFilesTest, ListsASandboxByItsHostPath) {
  auto r = listFiles(files_, listCall(runs_ + "/R1"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->list_files().file_infos_size(), 1);
  EXPECT_EQ(r->list_files().file_infos(0).path(), runs_ + "/R1/stdout");
}

TEST_F(OperatorFilesTest, ReadsAtOffsetWithLengthAndReportsTheSize) {
  auto r = readFile(files_, readCall("/frameworks/F/executors/E/runs/latest/stdout", 3, 4));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->type(), Response::READ_FILE);
  EXPECT_EQ(r->read_file().size(), 10u);
  EXPECT_EQ(r->read_file().data(), "3456");
  auto all = readFile(files_, readCall(runs_ + "/R2/sub/data", 0, std::nullopt));
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->read_file().data(), "abc");
  auto past = readFile(files_, readCall(runs_ + "/R2/stdout", UINT64_MAX, 5));
  ASSERT_TRUE(past) << past.error().message;
  EXPECT_EQ(past->read_file().size(), 10u);
  EXPECT_TRUE(past->read_file().data().empty());
}

TEST_F(OperatorFilesTest, UnknownPathsAre404BadInput400) {
  auto unknown = listFiles(files_, listCall("/frameworks/X/executors/E/runs/latest"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(httpStatusOf(unknown.error()), 404);
  auto missing = readFile(files_, readCall("/frameworks/F/executors/E/runs/latest/nope", 0, 1));
  ASSERT_FALSE(missing);
  EXPECT_EQ(httpStatusOf(missing.error()), 404);
  Call noPath;
  noPath.set_type(Call::READ_FILE);
  noPath.mutable_read_file()->set_offset(0);
  auto bad = readFile(files_, noPath);
  ASSERT_FALSE(bad);
  EXPECT_EQ(httpStatusOf(bad.error()), 400);
  EXPECT_NE(bad.error().message.find("read_file.path"), std::string::npos);
  auto dotdot = listFiles(files_, listCall(runs_ + "/R2/../R1"));
  ASSERT_FALSE(dotdot);
  EXPECT_EQ(httpStatusOf(dotdot.error()), 400);
  auto dir = readFile(files_, readCall(runs_ + "/R2/sub", 0, 1));
  ASSERT_FALSE(dir);
  EXPECT_EQ(httpStatusOf(dir.error()), 400);
}

TEST_F(OperatorFilesTest, ALinkOutOfTheSandboxIsRefused) {
  ASSERT_EQ(::symlink((runs_ + "/R1/stdout").c_str(), (runs_ + "/R2/escape").c_str()), 0);
  auto r = readFile(files_, readCall("/frameworks/F/executors/E/runs/latest/escape", 0, 100));
  // RESOLVE_IN_ROOT resolves the absolute link inside the sandbox: not found
  // there, and never the other run's content.
  ASSERT_FALSE(r);
  EXPECT_NE(httpStatusOf(r.error()), 200);
  EXPECT_EQ(r.error().message.find("old run"), std::string::npos);
}

}  // namespace
}  // namespace nucleo::agent
