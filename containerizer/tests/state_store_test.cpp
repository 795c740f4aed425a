#include "containerizer/state_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "linux/process.hpp"

namespace nucleo::containerizer {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-state-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)fs::removeAll(root_); }
  std::string root_;
};

TEST_F(StateStoreTest, IdsFollowRuncRules) {
  EXPECT_TRUE(StateStore::validateId("web-1.a_b+c"));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "../x"}) {
    auto r = StateStore::validateId(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_EQ(StateStore::validateId("a/b").error().message,
            "invalid container id \"a/b\": use letters, digits and _+-.");
}

TEST_F(StateStoreTest, ReserveSaveLoadListRemove) {
  StateStore store(root_ + "/state");
  ASSERT_TRUE(store.reserve("c1"));
  auto again = store.reserve("c1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "container \"c1\" already exists");
  ContainerRecord r;
  r.id = "c1";
  r.bundle = "/b";
  r.rootfs = "/b/rootfs";
  r.pid = 42;
  r.startTime = 7;
  r.cgroupPath = "/nucleo/c1";
  r.annotations["k"] = "v";
  ASSERT_TRUE(store.save(r));
  auto loaded = store.load("c1");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->pid, 42);
  EXPECT_EQ(loaded->startTime, 7u);
  EXPECT_EQ(loaded->annotations.at("k"), "v");
  EXPECT_EQ(*store.ids(), std::vector<std::string>{"c1"});
  ASSERT_TRUE(store.remove("c1"));
  auto gone = store.load("c1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().message, "container \"c1\" does not exist");
  EXPECT_TRUE(store.ids()->empty());
}

TEST_F(StateStoreTest, CorruptStateIsReported) {
  StateStore store(root_);
  ASSERT_TRUE(store.reserve("c2"));
  ASSERT_TRUE(fs::writeFileAtomic(store.dir("c2") + "/state.json", "{not json"));
  auto r = store.load("c2");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("corrupt state file"), std::string::npos);
}

TEST(Signals, ParseNamesAndNumbers) {
  EXPECT_EQ(*os::parseSignal("TERM"), SIGTERM);
  EXPECT_EQ(*os::parseSignal("SIGKILL"), SIGKILL);
  EXPECT_EQ(*os::parseSignal("sigusr1"), SIGUSR1);
  EXPECT_EQ(*os::parseSignal("9"), 9);
  EXPECT_EQ(*os::parseSignal("RTMIN+2"), SIGRTMIN + 2);
  EXPECT_EQ(*os::parseSignal("SIGRTMAX-1"), SIGRTMAX - 1);
  EXPECT_FALSE(os::parseSignal("RTMIN+99"));
  auto bad = os::parseSignal("SIGFOO");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "unknown signal \"SIGFOO\"");
  EXPECT_FALSE(os::parseSignal("0"));
  EXPECT_FALSE(os::parseSignal("999"));
}

}  // namespace
}  // namespace nucleo::containerizer
