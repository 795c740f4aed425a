// runc behaviours users and tools (containerd, podman, scripts) rely on,
// checked against each runtime by name: exit codes of `run`, `state` JSON
// across the lifecycle, `delete` rules, errors for unknown and duplicate ids,
// and that a failed `create` leaves nothing behind.

#include <sys/prctl.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include <gmock/gmock.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "integration-tests/runtime/fixture.hpp"

namespace nucleo::itest {
namespace {

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

class Lifecycle : public RuntimeFixture,
                  public ::testing::WithParamInterface<std::string> {
 protected:
  // `state ID` parsed; an empty object when it fails.
  boost::json::object state(const Runtime& rt, const std::string& id) {
    RunResult r = rt.run({"state", id}, 10s);
    if (r.exitCode != 0) return {};
    auto v = parseJson(r.out, "state");
    if (!v || !v->is_object()) return {};
    return v->as_object();
  }

  std::string status(const Runtime& rt, const std::string& id) {
    auto s = state(rt, id);
    auto* st = s.if_contains("status");
    return st && st->is_string() ? std::string(st->as_string()) : "";
  }

  // Polls `state` until the status is `want` or 10 s pass.
  bool waitForStatus(const Runtime& rt, const std::string& id,
                     const std::string& want) {
    for (int i = 0; i < 200; ++i) {
      if (status(rt, id) == want) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Saves the bundle with the helper and `helperArgs`; returns its dir.
  std::string helperBundle(const std::vector<std::string>& helperArgs) {
    auto b = bundle();
    if (!b) return "";
    b->setHelperArgs(helperArgs);
    Status saved = b->save();
    EXPECT_TRUE(saved) << saved.error().message;
    return b->dir().string();
  }
};

TEST_P(Lifecycle, ROOT_RunExitsWithTheProcessExitCode) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report", "--exit", "7"});
  RunResult r = rt->run({"run", "--bundle", dir, newId(*rt, "exit7")});
  EXPECT_EQ(r.exitCode, 7) << r.describe();
  dir = helperBundle({"--no-report"});
  r = rt->run({"run", "--bundle", dir, newId(*rt, "exit0")});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
}

TEST_P(Lifecycle, ROOT_RunExitsWith128PlusSignalWhenKilled) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report", "--sleep", "30"});
  std::string id = newId(*rt, "killed");
  auto run = rt->start({"run", "--bundle", dir, id});
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_TRUE(waitForStatus(*rt, id, "running"));
  // The helper is pid 1 of its namespace, so only SIGKILL from outside
  // reliably ends it; the runtime must report 128+9.
  RunResult k = rt->run({"kill", id, "KILL"}, 10s);
  EXPECT_EQ(k.exitCode, 0) << k.describe();
  RunResult r = run->wait(15s);
  EXPECT_EQ(r.exitCode, 128 + SIGKILL) << r.describe();
}

TEST_P(Lifecycle, ROOT_StateIsCreatedThenStopped) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report", "--exit", "3"});
  std::string id = newId(*rt, "state");
  RunResult c = rt->run({"create", "--bundle", dir, id});
  ASSERT_EQ(c.exitCode, 0) << c.describe();

  auto s = state(*rt, id);
  ASSERT_FALSE(s.empty()) << rt->run({"state", id}).describe();
  EXPECT_EQ(jsonText(s["status"]), "created");
  EXPECT_EQ(jsonText(s["id"]), id);
  ASSERT_TRUE(s["pid"].is_number());
  EXPECT_GT(s["pid"].to_number<int64_t>(), 0);
  EXPECT_EQ(stdfs::weakly_canonical(std::string(s["bundle"].as_string())),
            stdfs::weakly_canonical(dir));
  EXPECT_TRUE(s.contains("ociVersion"));

  RunResult st = rt->run({"start", id});
  EXPECT_EQ(st.exitCode, 0) << st.describe();
  EXPECT_TRUE(waitForStatus(*rt, id, "stopped")) << status(*rt, id);

  RunResult d = rt->run({"delete", id});
  EXPECT_EQ(d.exitCode, 0) << d.describe();
  EXPECT_NE(rt->run({"state", id}).exitCode, 0) << "state after delete";
  EXPECT_FALSE(stdfs::exists(rt->root() / id));
}

// runc (and crun) delete a created, never started container without --force
// (they kill its init); only a running one needs --force. nucleo follows the
// runtime-spec instead: deleting a container that is not stopped is an error
// and leaves it as it was, --force kills it first.
TEST_P(Lifecycle, ROOT_DeleteOfCreatedContainerNeedsNoForce) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report"});
  std::string id = newId(*rt, "delcreated");
  RunResult c = rt->run({"create", "--bundle", dir, id});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  pid_t pid = static_cast<pid_t>(state(*rt, id)["pid"].to_number<int64_t>());
  ASSERT_GT(pid, 0);

  RunResult d = rt->run({"delete", id});
  if (rt->name() == "nucleo") {
    EXPECT_NE(d.exitCode, 0) << d.describe();
    EXPECT_NE(d.err.find("not stopped: created"), std::string::npos) << d.describe();
    EXPECT_EQ(state(*rt, id)["status"].as_string(), "created");
    d = rt->run({"delete", "--force", id});
  }
  EXPECT_EQ(d.exitCode, 0) << d.describe();
  EXPECT_NE(rt->run({"state", id}).exitCode, 0) << "state after delete";
  EXPECT_FALSE(stdfs::exists(rt->root() / id));
  // The container's init is gone (a zombie awaiting its reaper counts).
  std::this_thread::sleep_for(100ms);
  auto stat = fs::readFile("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(!stat || stat->find(") Z ") != std::string::npos) << *stat;
}

TEST_P(Lifecycle, ROOT_DeleteOfRunningContainerNeedsForce) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report", "--sleep", "30"});
  std::string id = newId(*rt, "delrunning");
  RunResult c = rt->run({"run", "--detach", "--bundle", dir, id});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  ASSERT_TRUE(waitForStatus(*rt, id, "running"));

  RunResult d = rt->run({"delete", id});
  EXPECT_NE(d.exitCode, 0) << "delete of a running container without --force";
  EXPECT_EQ(status(*rt, id), "running") << "a refused delete keeps it";

  RunResult f = rt->run({"delete", "--force", id});
  EXPECT_EQ(f.exitCode, 0) << f.describe();
  EXPECT_NE(rt->run({"state", id}).exitCode, 0);
  EXPECT_FALSE(stdfs::exists(rt->root() / id));
}

TEST_P(Lifecycle, ROOT_UnknownIdFailsWithOneLineNamingIt) {
  USE_RUNTIME(rt, GetParam());
  std::string id = "nit-no-such-container-" + std::to_string(::getpid());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"state", id}, {"kill", id, "KILL"},
        {"start", id}, {"delete", id}}) {
    RunResult r = rt->run(args);
    EXPECT_NE(r.exitCode, 0) << args[0];
    std::string err(strings::trim(r.err));
    EXPECT_FALSE(err.empty()) << args[0];
    EXPECT_EQ(err.find('\n'), std::string::npos) << args[0] << ": " << err;
    // runc 1.1 says only "container does not exist"; crun and nucleo name it.
    if (rt->name() != "runc") {
      EXPECT_THAT(err, HasSubstr(id)) << args[0];
    }
  }
}

TEST_P(Lifecycle, ROOT_DuplicateIdIsRefused) {
  USE_RUNTIME(rt, GetParam());
  std::string dir = helperBundle({"--no-report"});
  std::string id = newId(*rt, "dup");
  RunResult c = rt->run({"create", "--bundle", dir, id});
  ASSERT_EQ(c.exitCode, 0) << c.describe();
  auto first = state(*rt, id);

  RunResult again = rt->run({"create", "--bundle", dir, id});
  EXPECT_NE(again.exitCode, 0) << "second create with the same id";
  RunResult run = rt->run({"run", "--bundle", dir, id});
  EXPECT_NE(run.exitCode, 0) << "run with the id of a created container";
  auto after = state(*rt, id);
  EXPECT_EQ(jsonText(after["status"]), "created") << "the first container is untouched";
  EXPECT_EQ(jsonText(after["pid"]), jsonText(first["pid"]));
}

// Directories named `id` anywhere in the first levels of the host's cgroup
// hierarchies (runtimes nest under the caller's cgroup).
std::vector<std::string> cgroupDirsNamed(const std::string& id) {
  std::vector<std::string> found;
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it("/sys/fs/cgroup", ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it.depth() >= 4) it.disable_recursion_pending();
    if (it->is_directory(ec) && it->path().filename() == id) {
      found.push_back(it->path());
    }
  }
  return found;
}

// Children reparented to this (subreaper) process: whatever a runtime left.
std::vector<pid_t> orphanedChildren() {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator("/proc", ec)) {
    auto pid = strings::toInt(e.path().filename().string());
    if (!pid) continue;
    auto stat = fs::readFile((e.path() / "stat").string());
    if (!stat) continue;
    // ppid is the 2nd field after the ")" that ends comm.
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    auto fields = strings::split(stat->substr(close + 2), ' ');
    if (fields.size() > 1 && strings::toInt(fields[1]) == ::getpid()) {
      out.push_back(static_cast<pid_t>(*pid));
    }
  }
  return out;
}

class FailedCreate : public Lifecycle {
 protected:
  void SetUp() override {
    Lifecycle::SetUp();
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  void TearDown() override {
    Lifecycle::TearDown();
    for (pid_t pid : orphanedChildren()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  void expectNothingLeft(const Runtime& rt, const std::string& id) {
    EXPECT_FALSE(stdfs::exists(rt.root() / id)) << "state dir left";
    EXPECT_THAT(cgroupDirsNamed(id), ::testing::IsEmpty()) << "cgroup left";
    std::this_thread::sleep_for(100ms);
    EXPECT_THAT(orphanedChildren(), ::testing::IsEmpty()) << "process left";
    EXPECT_NE(rt.run({"state", id}).exitCode, 0);
  }
};

TEST_P(FailedCreate, ROOT_MissingBinaryLeavesNothing) {
  USE_RUNTIME(rt, GetParam());
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"/bin/nucleo-no-such-binary"});
  ASSERT_TRUE(b->save());
  std::string id = newId(*rt, "nobin");
  RunResult c = rt->run({"create", "--bundle", b->dir().string(), id});
  ASSERT_NE(c.exitCode, 0) << "create with a missing binary succeeded";
  expectNothingLeft(*rt, id);
}

TEST_P(FailedCreate, ROOT_MissingRootfsLeavesNothing) {
  USE_RUNTIME(rt, GetParam());
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setHelperArgs({"--no-report"}).setRootPath("no-such-rootfs");
  ASSERT_TRUE(b->save());
  std::string id = newId(*rt, "norootfs");
  RunResult c = rt->run({"create", "--bundle", b->dir().string(), id});
  ASSERT_NE(c.exitCode, 0) << "create with a missing rootfs succeeded";
  expectNothingLeft(*rt, id);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, Lifecycle,
                         ::testing::Values("crun", "runc", "nucleo"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Runtimes, FailedCreate,
                         ::testing::Values("crun", "runc", "nucleo"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace nucleo::itest
