#include "agent/status_update.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::TaskState;

struct Sent {
  std::string task;
  TaskState state;
  std::string uuid;
};

class StatusUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-sum-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fw_.set_value("fw-1");
  }
  void TearDown() override { (void)fs::removeAll(dir_); }

  StatusUpdateManager make() {
    return StatusUpdateManager(
        {std::chrono::seconds(10), std::chrono::minutes(10)}, clock_,
        [this](const mesos::v1::FrameworkID&, const mesos::v1::TaskStatus& s) {
          sent_.push_back({s.task_id().value(), s.state(), s.uuid()});
        });
  }
  mesos::v1::TaskStatus status(const std::string& task, TaskState state) {
    mesos::v1::TaskStatus s;
    s.mutable_task_id()->set_value(task);
    s.set_state(state);
    return s;
  }

  std::string dir_;
  FakeClock clock_;
  mesos::v1::FrameworkID fw_;
  std::vector<Sent> sent_;
};

TEST_F(StatusUpdateTest, SendsInOrderOneAtATime) {
  auto m = make();
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_STARTING)));
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING)));
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_FINISHED)));
  ASSERT_EQ(sent_.size(), 1u);  // the next waits for the ack
  EXPECT_EQ(sent_[0].state, mesos::v1::TASK_STARTING);
  EXPECT_EQ(sent_[0].uuid.size(), 16u);
  EXPECT_EQ(m.pending(), 3u);
  ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].state, mesos::v1::TASK_RUNNING);
  ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[1].uuid));
  EXPECT_EQ(sent_[2].state, mesos::v1::TASK_FINISHED);
  EXPECT_FALSE(m.done("fw-1", "t1"));
  ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[2].uuid));
  EXPECT_TRUE(m.done("fw-1", "t1"));
  EXPECT_EQ(m.pending(), 0u);
  EXPECT_FALSE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING)));  // after terminal
}

TEST_F(StatusUpdateTest, StreamsOfDifferentTasksAreIndependent) {
  auto m = make();
  ASSERT_TRUE(m.update(fw_, status("a", mesos::v1::TASK_RUNNING)));
  ASSERT_TRUE(m.update(fw_, status("b", mesos::v1::TASK_RUNNING)));
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(StatusUpdateTest, WrongOrDuplicateAckIsIgnored) {
  auto m = make();
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING)));
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_FINISHED)));
  EXPECT_FALSE(*m.acknowledge("fw-1", "t1", randomUuid()));
  EXPECT_FALSE(*m.acknowledge("fw-1", "other", sent_[0].uuid));
  EXPECT_FALSE(*m.acknowledge("fw-2", "t1", sent_[0].uuid));
  EXPECT_EQ(sent_.size(), 1u);
  EXPECT_TRUE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));
  EXPECT_FALSE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));  // duplicate
  EXPECT_EQ(sent_.size(), 2u);
  EXPECT_EQ(m.pending(), 1u);
}

TEST_F(StatusUpdateTest, RetriesWithDoublingBackoffCapped) {
  auto m = make();
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING)));
  std::vector<int> resentAt;  // seconds since the first send
  int elapsed = 0;
  for (int i = 0; i < 2000; ++i) {
    clock_.advance(std::chrono::seconds(1));
    ++elapsed;
    size_t before = sent_.size();
    m.tick();
    if (sent_.size() > before) resentAt.push_back(elapsed);
  }
  ASSERT_GE(resentAt.size(), 8u);
  // 10, 10+20, +40, +80, +160, +320, +600 (capped), +600.
  std::vector<int> expected = {10, 30, 70, 150, 310, 630, 1230, 1830};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(resentAt[i], expected[i]) << i;
  for (const auto& s : sent_) EXPECT_EQ(s.uuid, sent_[0].uuid);  // the same update
}

TEST_F(StatusUpdateTest, PausedSendsNothingAndResumeSendsHeads) {
  auto m = make();
  m.pause();
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING)));
  clock_.advance(std::chrono::minutes(5));
  m.tick();
  EXPECT_TRUE(sent_.empty());
  m.resume();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(m.nextRetry(), clock_.now() + std::chrono::seconds(10));
}

TEST_F(StatusUpdateTest, RecoversPendingUpdatesFromCheckpoint) {
  std::string path = dir_ + "/task.updates";
  std::string firstUuid;
  {
    auto m = make();
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_STARTING), path));
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING), path));
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_FINISHED), path));
    ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));
  }
  sent_.clear();
  auto m = make();
  m.pause();
  ASSERT_TRUE(m.recover("fw-1", "t1", path));
  EXPECT_EQ(m.pending(), 2u);
  EXPECT_EQ(m.latest("fw-1", "t1")->state(), mesos::v1::TASK_FINISHED);
  m.resume();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].state, mesos::v1::TASK_RUNNING);  // acked STARTING not resent
  ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));
  ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[1].uuid));
  EXPECT_TRUE(m.done("fw-1", "t1"));

  auto again = make();
  ASSERT_TRUE(again.recover("fw-1", "t1", path));
  EXPECT_TRUE(again.done("fw-1", "t1"));
  EXPECT_EQ(again.pending(), 0u);
}

TEST_F(StatusUpdateTest, TornLastRecordIsDroppedAndTruncated) {
  std::string path = dir_ + "/task.updates";
  {
    auto m = make();
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING), path));
  }
  auto good = fs::readFile(path);
  ASSERT_TRUE(good);
  // A crash in the middle of appending the next record.
  UpdateRecord next{UpdateRecord::Kind::Update, fw_, status("t1", mesos::v1::TASK_FINISHED), {}};
  std::string record = encodeRecord(next);
  ASSERT_TRUE(appendSynced(path, record.substr(0, record.size() / 2)));
  sent_.clear();
  auto m = make();
  ASSERT_TRUE(m.recover("fw-1", "t1", path));
  EXPECT_EQ(m.pending(), 1u);
  EXPECT_EQ(m.latest("fw-1", "t1")->state(), mesos::v1::TASK_RUNNING);
  EXPECT_EQ(*fs::readFile(path), *good);  // truncated back to whole records
  // New updates append after the good prefix and are read back.
  ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_FAILED), path));
  auto decoded = decodeRecords(*fs::readFile(path));
  EXPECT_FALSE(decoded.torn);
  ASSERT_EQ(decoded.records.size(), 2u);
  EXPECT_EQ(decoded.records[1].status.state(), mesos::v1::TASK_FAILED);
}

TEST_F(StatusUpdateTest, CorruptRecordStopsDecoding) {
  UpdateRecord a{UpdateRecord::Kind::Update, fw_, status("t", mesos::v1::TASK_RUNNING), {}};
  UpdateRecord ack{UpdateRecord::Kind::Ack, {}, {}, std::string(16, 'x')};
  std::string data = encodeRecord(a) + encodeRecord(ack);
  auto decoded = decodeRecords(data);
  ASSERT_EQ(decoded.records.size(), 2u);
  EXPECT_EQ(decoded.records[1].uuid, std::string(16, 'x'));
  EXPECT_EQ(decoded.records[0].frameworkId.value(), "fw-1");
  data[data.size() - 3] ^= 0x55;
  decoded = decodeRecords(data);
  EXPECT_EQ(decoded.records.size(), 1u);
  EXPECT_TRUE(decoded.torn);
  EXPECT_EQ(decodeRecords(std::string(7, '\0')).records.size(), 0u);
}

TEST_F(StatusUpdateTest, UuidStateSurvivesRecovery) {
  std::string path = dir_ + "/task.updates";
  {
    auto m = make();
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_RUNNING), path));
    ASSERT_TRUE(m.update(fw_, status("t1", mesos::v1::TASK_FINISHED), path));
    ASSERT_TRUE(*m.acknowledge("fw-1", "t1", sent_[0].uuid));
  }
  auto m = make();
  ASSERT_TRUE(m.recover("fw-1", "t1", path));
  using S = StatusUpdateManager::UuidState;
  EXPECT_EQ(m.uuidState("fw-1", "t1", sent_[0].uuid), S::Acknowledged);
  EXPECT_EQ(m.uuidState("fw-1", "t1", sent_[1].uuid), S::Pending);
  EXPECT_EQ(m.uuidState("fw-1", "t1", randomUuid()), S::Unknown);
  EXPECT_EQ(m.uuidState("fw-1", "other", sent_[0].uuid), S::Unknown);
}

TEST_F(StatusUpdateTest, UuidIsVersion4AndPrintable) {
  std::string u = randomUuid();
  ASSERT_EQ(u.size(), 16u);
  EXPECT_EQ(static_cast<uint8_t>(u[6]) >> 4, 4);
  EXPECT_EQ(uuidToString(u).size(), 36u);
  EXPECT_NE(randomUuid(), u);
}

}  // namespace
}  // namespace nucleo::agent
