// Root tests on the real cgroupfs of whatever layout the machine has (hybrid
// v1 on the build host, pure v2 in the cgroup2 VM). Everything lives under
// /nucleo-test-<pid>, which TearDown removes after killing the children.

#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <thread>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup.hpp"
#include "linux/cgroup_devices.hpp"
#include "linux/cgroup_events.hpp"
#include "linux/cgroup_stats.hpp"

namespace nucleo::os {
namespace {

using namespace std::chrono_literals;

// controller -> cgroup path from /proc/<pid>/cgroup; the v2 line has key "".
std::map<std::string, std::string> cgroupsOf(pid_t pid) {
  std::map<std::string, std::string> out;
  Result<std::string> text = fs::readFile("/proc/" + std::to_string(pid) + "/cgroup");
  EXPECT_TRUE(text) << text.error().message;
  for (const std::string& line : strings::split(text ? *text : "", '\n', true)) {
    size_t first = line.find(':'), second = line.find(':', first + 1);
    std::string path = line.substr(second + 1);
    std::string controllers = line.substr(first + 1, second - first - 1);
    if (controllers.empty()) out[""] = path;
    for (const std::string& c : strings::split(controllers, ',', true)) out[c] = path;
  }
  return out;
}

std::string readTrimmed(const std::string& path) {
  Result<std::string> text = fs::readFile(path);
  EXPECT_TRUE(text) << text.error().message;
  return text ? std::string(strings::trim(*text)) : "";
}

class CgroupRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    Result<CgroupLayout> layout = CgroupLayout::detect();
    if (!layout) GTEST_SKIP() << layout.error().message;
    layout_ = *layout;
    for (const char* c : {"memory", "pids", "cpu", "freezer"})
      if (!layout_.available(c)) GTEST_SKIP() << "no " << c << " controller";
    base_ = "/nucleo-test-" + std::to_string(::getpid());
    void* shared = ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(shared, MAP_FAILED);
    counter_ = new (shared) std::atomic<uint64_t>(0);
  }

  void TearDown() override {
    if (cg_) (void)cg_->thaw();  // a v1-frozen task only dies once thawed
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cg_) {
      Status destroyed = cg_->destroy();
      EXPECT_TRUE(destroyed) << destroyed.error().message;
    }
    if (Result<Cgroup> parent = Cgroup::open(layout_, base_); parent) {
      Status destroyed = parent->destroy();
      EXPECT_TRUE(destroyed) << destroyed.error().message;
    }
    if (counter_) ::munmap(counter_, sizeof *counter_);
  }

  Cgroup& create(const CgroupLimits& limits) {
    Result<Cgroup> cg = Cgroup::create(layout_, base_ + "/c1");
    EXPECT_TRUE(cg) << cg.error().message;
    cg_.emplace(std::move(*cg));
    Status applied = cg_->apply(limits);
    EXPECT_TRUE(applied) << applied.error().message;
    return *cg_;
  }

  // A child that waits for a byte on a pipe, then runs body (which must only
  // use async-signal-safe calls) and exits 0.
  template <class F>
  std::pair<pid_t, UniqueFd> spawn(F body) {
    auto pipe = makePipe();
    EXPECT_TRUE(pipe);
    pid_t pid = ::fork();
    if (pid == 0) {
      pipe->second.reset();
      char go;
      if (::read(pipe->first.get(), &go, 1) != 1) ::_exit(3);
      body();
      ::_exit(0);
    }
    children_.push_back(pid);
    return {pid, std::move(pipe->second)};
  }

  // Waits for pid and returns its wait status; forgets it for TearDown.
  int reap(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    std::erase(children_, pid);
    return status;
  }

  void expectLimit(const char* controller, const char* v1File, const char* v2File,
                   const std::string& value) {
    bool v2 = layout_.versionOf(controller) == CgroupVersion::V2;
    EXPECT_EQ(readTrimmed(cg_->dirOf(controller) + "/" + (v2 ? v2File : v1File)), value);
  }

  CgroupLayout layout_;
  std::string base_;
  std::optional<Cgroup> cg_;
  std::vector<pid_t> children_;
  std::atomic<uint64_t>* counter_ = nullptr;
};

TEST_F(CgroupRootTest, ROOT_LimitsFreezeKillAndDestroy) {
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.pidsLimit = 32;
  limits.cpuQuota = 50000;
  limits.cpuPeriod = 100000;
  Cgroup& cg = create(limits);
  std::atomic<uint64_t>* counter = counter_;
  auto [pid, go] = spawn([counter] {
    for (;;) {
      counter->fetch_add(1);
      ::usleep(1000);
    }
  });
  Status added = cg.addProcess(pid);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_EQ(::write(go.get(), "x", 1), 1);

  std::map<std::string, std::string> member = cgroupsOf(pid);
  for (const char* c : {"memory", "pids", "cpu"}) {
    bool v2 = layout_.versionOf(c) == CgroupVersion::V2;
    EXPECT_EQ(member[v2 ? "" : c], cg.path()) << c;
  }
  expectLimit("memory", "memory.limit_in_bytes", "memory.max", "67108864");
  expectLimit("pids", "pids.max", "pids.max", "32");
  if (layout_.versionOf("cpu") == CgroupVersion::V2)
    EXPECT_EQ(readTrimmed(cg.dirOf("cpu") + "/cpu.max"), "50000 100000");
  else
    EXPECT_EQ(readTrimmed(cg.dirOf("cpu") + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(*cg.pids(), std::vector<pid_t>{pid});

  // Frozen: the child's counter stops; thawed: it moves again.
  while (counter_->load() == 0) std::this_thread::sleep_for(1ms);
  Status frozen = cg.freeze();
  ASSERT_TRUE(frozen) << frozen.error().message;
  EXPECT_TRUE(*cg.frozen());
  uint64_t before = counter_->load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(counter_->load(), before);
  ASSERT_TRUE(cg.thaw());
  EXPECT_FALSE(*cg.frozen());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (counter_->load() == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_GT(counter_->load(), before);

  Status killed = cg.killAll(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().message;
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(cg.pids()->empty());

  std::vector<std::string> dirs;
  for (const char* c : {"memory", "pids", "cpu", "freezer"}) dirs.push_back(cg.dirOf(c));
  Status destroyed = cg.destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message;
  for (const std::string& dir : dirs) EXPECT_FALSE(fs::exists(dir)) << dir;
}

TEST_F(CgroupRootTest, ROOT_KillAllDeliversOtherSignalsToEveryProcess) {
  Cgroup& cg = create({});
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    auto [pid, go] = spawn([] {
      for (;;) ::pause();
    });
    ASSERT_TRUE(cg.addProcess(pid));
    ASSERT_EQ(::write(go.get(), "x", 1), 1);
    pids.push_back(pid);
  }
  Status killed = cg.killAll(SIGTERM);
  ASSERT_TRUE(killed) << killed.error().message;
  for (pid_t pid : pids) {
    int status = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  }
  EXPECT_FALSE(*cg.frozen());  // the freeze around the signals was undone
}

TEST_F(CgroupRootTest, ROOT_OomKillsAChildOverItsMemoryLimit) {
  CgroupLimits limits;
  limits.memoryLimit = 32 << 20;
  limits.memorySwap = 32 << 20;  // no swap to escape into
  Cgroup& cg = create(limits);
  auto [pid, go] = spawn([] {
    size_t size = 200 << 20;
    void* p =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ::_exit(2);
    for (size_t i = 0; i < size; i += 4096) static_cast<char*>(p)[i] = 1;
  });
  ASSERT_TRUE(cg.addProcess(pid));
  ASSERT_EQ(::write(go.get(), "x", 1), 1);
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "wait status " << status;
}

// v1 refuses memory.limit_in_bytes above memory.memsw.limit_in_bytes, so
// raising and lowering both only works when apply() orders the writes.
TEST_F(CgroupRootTest, ROOT_RaisingAndLoweringMemoryWithSwap) {
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 128 << 20;
  Cgroup& cg = create(limits);
  for (auto [memory, swap] : std::vector<std::pair<int64_t, int64_t>>{
           {256 << 20, 512 << 20}, {32 << 20, 48 << 20}, {-1, -1}}) {
    limits.memoryLimit = memory;
    limits.memorySwap = swap;
    Status applied = cg.apply(limits);
    ASSERT_TRUE(applied) << applied.error().message;
    std::string expected = memory == -1 ? "max" : std::to_string(memory);
    if (layout_.versionOf("memory") == CgroupVersion::V2) {
      EXPECT_EQ(readTrimmed(cg.dirOf("memory") + "/memory.max"), expected);
    } else if (memory != -1) {
      EXPECT_EQ(readTrimmed(cg.dirOf("memory") + "/memory.limit_in_bytes"), expected);
      std::string memsw = cg.dirOf("memory") + "/memory.memsw.limit_in_bytes";
      if (fs::exists(memsw)) {
        EXPECT_EQ(readTrimmed(memsw), std::to_string(swap));
      }
    }
  }
}

TEST_F(CgroupRootTest, ROOT_CloneIntoCgroupOnUnifiedOnly) {
  Cgroup& cg = create({});
  Result<UniqueFd> fd = cg.v2DirFd();
  if (layout_.mode != CgroupLayout::Mode::Unified) {
    EXPECT_FALSE(fd);  // the child would miss the v1 hierarchies
    return;
  }
  ASSERT_TRUE(fd) << fd.error().message;
  auto pipe = makePipe();
  ASSERT_TRUE(pipe);
  struct clone_args args {};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(fd->get());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    pipe->second.reset();
    char go;
    (void)::read(pipe->first.get(), &go, 1);
    ::_exit(0);
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  children_.push_back(static_cast<pid_t>(pid));
  EXPECT_EQ(cgroupsOf(static_cast<pid_t>(pid))[""], cg.path());
  pipe->second.reset();
  int status = reap(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// The launch path of the runtime: the child enters every hierarchy by itself
// (clone3 into v2, "0" into each v1 tasks file), and nothing of it is left
// in the parent's cgroups.
TEST_F(CgroupRootTest, ROOT_ChildPlacementPutsTheChildInEveryHierarchy) {
  Cgroup& cg = create({});
  Result<Cgroup::ChildPlacement> placement = cg.childPlacement();
  ASSERT_TRUE(placement) << placement.error().message;
  auto joined = makePipe();
  auto go = makePipe();
  ASSERT_TRUE(joined && go);
  struct clone_args args {};
  args.exit_signal = SIGCHLD;
  if (placement->cloneInto) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(placement->cloneInto.get());
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    joined->first.reset();
    go->second.reset();  // or the read below never sees the parent's close
    std::vector<int> fds;
    for (const auto& fd : placement->selfTasks) fds.push_back(fd.get());
    if (!Cgroup::joinSelf(fds)) ::_exit(3);
    (void)!::write(joined->second.get(), "j", 1);
    char byte;
    (void)!::read(go->first.get(), &byte, 1);
    ::_exit(0);
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  children_.push_back(static_cast<pid_t>(pid));
  joined->second.reset();
  go->first.reset();
  char byte = 0;
  EXPECT_EQ(::read(joined->first.get(), &byte, 1), 1) << "the child could not join its cgroups";
  std::map<std::string, std::string> member = cgroupsOf(static_cast<pid_t>(pid));
  for (const char* c : {"memory", "pids", "cpu", "cpuset", "freezer"}) {
    if (!layout_.available(c)) continue;
    bool v2 = layout_.versionOf(c) == CgroupVersion::V2;
    EXPECT_EQ(member[v2 ? "" : c], cg.path()) << c;
  }
  if (placement->cloneInto) {
    EXPECT_EQ(member[""], cg.path());
  }
  Result<std::vector<pid_t>> pids = cg.pids();
  ASSERT_TRUE(pids);
  EXPECT_EQ(*pids, std::vector<pid_t>{static_cast<pid_t>(pid)});
  go->second.reset();
  int status = reap(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(CgroupRootTest, ROOT_OomKillIsReportedByTheWatcherAndTheStats) {
  CgroupLimits limits;
  limits.memoryLimit = 32 << 20;
  limits.memorySwap = 32 << 20;
  Cgroup& cg = create(limits);
  Result<OomWatcher> watcher = OomWatcher::create(cg);
  ASSERT_TRUE(watcher) << watcher.error().message;
  auto [pid, go] = spawn([] {
    size_t size = 200 << 20;
    void* p =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) ::_exit(2);
    for (size_t i = 0; i < size; i += 4096) static_cast<char*>(p)[i] = 1;
  });
  ASSERT_TRUE(cg.addProcess(pid));
  ASSERT_EQ(::write(go.get(), "x", 1), 1);
  int status = reap(pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  Result<uint64_t> ooms = watcher->wait(5s);
  ASSERT_TRUE(ooms) << ooms.error().message;
  EXPECT_GE(*ooms, 1u);
  Result<CgroupStats> stats = readCgroupStats(cg);
  ASSERT_TRUE(stats) << stats.error().message;
  ASSERT_TRUE(stats->memory);
  EXPECT_GE(stats->memory->oomKillEvents, 1u);
  EXPECT_EQ(stats->memory->usage.limit, uint64_t{32} << 20);
}

TEST_F(CgroupRootTest, ROOT_PidsMaxStopsAForkBomb) {
  CgroupLimits limits;
  limits.pidsLimit = 10;
  Cgroup& cg = create(limits);
  std::atomic<uint64_t>* failures = counter_;
  auto [pid, go] = spawn([failures] {
    for (int i = 0; i < 50; ++i) {
      pid_t child = ::fork();
      if (child == 0) {
        ::pause();
        ::_exit(0);
      }
      if (child < 0) failures->fetch_add(1);
    }
  });
  ASSERT_TRUE(cg.addProcess(pid));
  ASSERT_EQ(::write(go.get(), "x", 1), 1);
  int status = reap(pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  // The bomb itself holds one of the 10: at most 9 forks succeed.
  EXPECT_GE(counter_->load(), 41u);
  Result<CgroupStats> stats = readCgroupStats(cg);
  ASSERT_TRUE(stats && stats->pids);
  EXPECT_EQ(stats->pids->limit, 10u);
  EXPECT_LE(stats->pids->current, 9u);
  ASSERT_TRUE(cg.killAll(SIGKILL));  // the orphaned children
}

TEST_F(CgroupRootTest, ROOT_CpuQuotaBoundsABusyLoop) {
  CgroupLimits limits;
  limits.cpuQuota = 20000;
  limits.cpuPeriod = 100000;
  Cgroup& cg = create(limits);
  auto [pid, go] = spawn([] {
    struct timespec start, now;
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    do {
      ::clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
             1000000000L);
  });
  ASSERT_TRUE(cg.addProcess(pid));
  ASSERT_EQ(::write(go.get(), "x", 1), 1);
  reap(pid);
  Result<CgroupStats> stats = readCgroupStats(cg);
  ASSERT_TRUE(stats && stats->cpu);
  // 20% of one second, with slack for the period the loop started in.
  EXPECT_GT(stats->cpu->totalNs, 50'000'000u);
  EXPECT_LT(stats->cpu->totalNs, 400'000'000u) << "quota not enforced";
  EXPECT_GT(stats->cpu->throttledPeriods, 0u);
}

TEST_F(CgroupRootTest, ROOT_UpdateRaisesAndLowersALiveCgroupAndRollsBackOnError) {
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.pidsLimit = 20;
  Cgroup& cg = create(limits);
  auto [pid, go] = spawn([] { ::pause(); });
  ASSERT_TRUE(cg.addProcess(pid));
  for (int64_t memory : {int64_t{256} << 20, int64_t{48} << 20}) {
    CgroupLimits change;
    change.memoryLimit = memory;
    change.pidsLimit = memory >> 20;
    Status updated = cg.update(change);
    ASSERT_TRUE(updated) << updated.error().message;
    expectLimit("memory", "memory.limit_in_bytes", "memory.max", std::to_string(memory));
    expectLimit("pids", "pids.max", "pids.max", std::to_string(memory >> 20));
  }
  CgroupLimits bad;
  bad.memoryLimit = 512 << 20;
  bad.pidsLimit = 99;
  bad.cpusetCpus = "4095";  // no such CPU: the kernel refuses it
  Status updated = cg.update(bad);
  ASSERT_FALSE(updated);
  EXPECT_NE(updated.error().message.find("cpuset.cpus"), std::string::npos)
      << updated.error().message;
  expectLimit("memory", "memory.limit_in_bytes", "memory.max", std::to_string(48 << 20));
  expectLimit("pids", "pids.max", "pids.max", "48");
}

TEST_F(CgroupRootTest, ROOT_DeviceRulesDenyWhatTheyDoNotAllow) {
  CgroupLimits limits;
  limits.devices = std::vector<CgroupDeviceRule>{{false, 'a', -1, -1, "rwm"},
                                                {true, 'c', 1, 3, "rwm"}};
  Result<Cgroup> made = Cgroup::create(layout_, base_ + "/c1");
  ASSERT_TRUE(made) << made.error().message;
  cg_.emplace(std::move(*made));
  Status applied = cg_->apply(limits);
  ASSERT_TRUE(applied) << applied.error().message;
  std::atomic<uint64_t>* result = counter_;
  auto [pid, go] = spawn([result] {
    int null = ::open("/dev/null", O_RDWR);
    int zero = ::open("/dev/zero", O_RDONLY);
    result->store((null >= 0 ? 1 : 0) | (zero < 0 && errno == EPERM ? 2 : 0));
  });
  ASSERT_TRUE(cg_->addProcess(pid));
  ASSERT_EQ(::write(go.get(), "x", 1), 1);
  reap(pid);
  EXPECT_EQ(counter_->load(), 3u) << "1: /dev/null opened, 2: /dev/zero refused";
  // Replacing the rules keeps one program (v2) instead of stacking them.
  limits.devices->push_back({true, 'c', 1, 5, "r"});
  ASSERT_TRUE(cg_->apply(limits));
  if (layout_.versionOf("devices") == CgroupVersion::V2 || !layout_.available("devices")) {
    Result<std::vector<uint32_t>> progs = attachedDevicePrograms(cg_->unifiedDir()->fd);
    ASSERT_TRUE(progs) << progs.error().message;
    EXPECT_EQ(progs->size(), 1u);
  }
}

TEST_F(CgroupRootTest, ROOT_DestroyWhileFrozenLeavesNothing) {
  Cgroup& cg = create({});
  auto [pid, go] = spawn([] { ::pause(); });
  ASSERT_TRUE(cg.addProcess(pid));
  ASSERT_TRUE(cg.freeze());
  std::string dir = cg.dirOf("freezer");
  Status killed = cg.killAll(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().message;
  reap(pid);
  Status destroyed = cg.destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message;
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace nucleo::os
