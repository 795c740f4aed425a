#include "agent/checkpoint.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-ckpt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  std::string dir_;
};

TEST_F(CheckpointTest, EmptyWhenNothingWasCheckpointed) {
  CheckpointPaths paths(dir_ + "/meta");
  auto state = recoverCheckpoint(paths);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_TRUE(state->agentId.empty());
  EXPECT_TRUE(state->frameworks.empty());
}

TEST_F(CheckpointTest, RoundTrip) {
  CheckpointPaths paths(dir_ + "/meta");
  mesos::v1::AgentInfo agent;
  agent.set_hostname("h");
  agent.mutable_id()->set_value("M-S1");
  ASSERT_TRUE(checkpointAgent(paths, agent));
  mesos::v1::FrameworkInfo fw;
  fw.set_name("f");
  fw.mutable_id()->set_value("F1");
  ASSERT_TRUE(checkpointFramework(paths, "M-S1", fw));
  mesos::v1::ExecutorInfo ex;
  ex.mutable_executor_id()->set_value("E1");
  ex.mutable_command()->set_value("sleep 1");
  ASSERT_TRUE(checkpointExecutor(paths, "M-S1", "F1", ex, "c-old"));
  ASSERT_TRUE(markRunCompleted(paths, "M-S1", "F1", "E1", "c-old"));
  ASSERT_TRUE(checkpointExecutor(paths, "M-S1", "F1", ex, "c-new"));
  mesos::v1::TaskInfo task;
  task.set_name("t");
  task.mutable_task_id()->set_value("T1");
  ASSERT_TRUE(checkpointTask(paths, "M-S1", "F1", "E1", "c-new", task));

  auto state = recoverCheckpoint(paths);
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->agentId, "M-S1");
  ASSERT_TRUE(state->info);
  EXPECT_EQ(state->info->hostname(), "h");
  ASSERT_EQ(state->frameworks.count("F1"), 1u);
  const auto& f = state->frameworks.at("F1");
  EXPECT_EQ(f.info.name(), "f");
  ASSERT_EQ(f.executors.count("E1"), 1u);
  const auto& e = f.executors.at("E1");
  EXPECT_EQ(e.info.command().value(), "sleep 1");
  EXPECT_EQ(e.latestRun, "c-new");
  ASSERT_EQ(e.runs.size(), 2u);
  EXPECT_TRUE(e.runs.at("c-old").completed);
  EXPECT_FALSE(e.runs.at("c-new").completed);
  ASSERT_EQ(e.runs.at("c-new").tasks.count("T1"), 1u);
  EXPECT_EQ(e.runs.at("c-new").tasks.at("T1").info.name(), "t");
  EXPECT_EQ(e.runs.at("c-new").tasks.at("T1").updatesPath,
            paths.taskUpdates("M-S1", "F1", "E1", "c-new", "T1"));
}

TEST_F(CheckpointTest, CorruptFileIsAnErrorNamingIt) {
  CheckpointPaths paths(dir_ + "/meta");
  mesos::v1::AgentInfo agent;
  agent.mutable_id()->set_value("A");
  ASSERT_TRUE(checkpointAgent(paths, agent));
  mesos::v1::FrameworkInfo fw;
  fw.mutable_id()->set_value("F");
  ASSERT_TRUE(checkpointFramework(paths, "A", fw));
  ASSERT_TRUE(fs::writeFileAtomic(paths.framework("A", "F") + "/framework.info", "\xff\xff\xff"));
  auto state = recoverCheckpoint(paths);
  ASSERT_FALSE(state);
  EXPECT_NE(state.error().message.find("framework.info"), std::string::npos);
}

TEST_F(CheckpointTest, PathIdsAreConfined) {
  EXPECT_TRUE(validatePathId("task id", "web-1.a_b"));
  EXPECT_FALSE(validatePathId("task id", ""));
  EXPECT_FALSE(validatePathId("task id", ".."));
  EXPECT_FALSE(validatePathId("task id", "a/b"));
  auto bad = validatePathId("task id", "a b");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("task id 'a b'"), std::string::npos);
}

}  // namespace
}  // namespace nucleo::agent
