// The records of a container's directory and the supervisor identity check.
#include "agent/containers/container_files.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "linux/process.hpp"

namespace nucleo::agent::detail {
namespace {

TEST(ContainerFiles, ExitRoundTrip) {
  ContainerExit exit;
  exit.waitStatus = 7 << 8;
  exit.oomKilled = true;
  exit.killedByRequest = false;
  exit.message = "two\nlines";
  auto back = parseExit(formatExit(exit));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->waitStatus, 7 << 8);
  EXPECT_TRUE(back->oomKilled);
  EXPECT_FALSE(back->killedByRequest);
  EXPECT_EQ(back->message, "two lines");
  // As the supervisor writes it.
  auto written = parseExit("status 9\noom 0\nkilled 1\nmessage \n");
  ASSERT_TRUE(written);
  EXPECT_EQ(written->waitStatus, 9);
  EXPECT_TRUE(written->killedByRequest);
  EXPECT_FALSE(parseExit("oom 1\n")) << "no status";
  EXPECT_FALSE(parseExit("status x\n"));
}

TEST(ContainerFiles, MetaAndSupervisorRecords) {
  auto meta = parseMeta(formatMeta({"/nucleo-agent/a", ""}));
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->cgroup, "/nucleo-agent/a");
  EXPECT_EQ(meta->imageMount, "");
  EXPECT_EQ(parseMeta(formatMeta({"/p/b", "agent-b"}))->imageMount, "agent-b");
  EXPECT_FALSE(parseMeta("mount x\n"));
  auto sid = parseSupervisorId("123 456\n");
  ASSERT_TRUE(sid);
  EXPECT_EQ(sid->pid, 123);
  EXPECT_EQ(sid->startTime, 456u);
  EXPECT_FALSE(parseSupervisorId("123"));
  EXPECT_FALSE(parseSupervisorId("-1 5"));
}

TEST(ContainerFiles, IdentityCheckRejectsAnotherStartTime) {
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  auto start = os::processStartTime(child);
  ASSERT_TRUE(start);
  auto same = openIfSame({child, *start});
  ASSERT_TRUE(same);
  EXPECT_TRUE(*same) << "the recorded process";
  auto other = openIfSame({child, *start + 1});
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other) << "same pid, another process";
  ::kill(child, SIGKILL);
  EXPECT_TRUE(waitPidfd(**same, 5000)) << "the pidfd becomes readable when it exits";
  ::waitpid(child, nullptr, 0);
  auto gone = openIfSame({child, *start});
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
}

TEST(ContainerFiles, RunProgramCapturesOutput) {
  auto r = runProgram({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"});
  ASSERT_TRUE(r);
  EXPECT_EQ(WEXITSTATUS(r->status), 4);
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_EQ(lastLine("a\nb\n\n"), "b");
  EXPECT_FALSE(runProgram({"/no/such/binary"}));
}

}  // namespace
}  // namespace nucleo::agent::detail
