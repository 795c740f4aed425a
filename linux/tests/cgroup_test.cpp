// Unit tests on a fake cgroupfs: a tmpdir with the interface files a kernel
// would show, so limits are checked by reading back what apply() wrote.

#include "linux/cgroup.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace nucleo::os {
namespace {

// Exactly this host's cgroup lines (Debian 12, systemd hybrid layout).
constexpr const char* HYBRID_MOUNTINFO =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr const char* UNIFIED_MOUNTINFO =
    "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - "
    "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

// Legacy with the common cpu,cpuacct co-mount.
constexpr const char* LEGACY_MOUNTINFO =
    "25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:8 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n"
    "29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid shared:10 - cgroup cgroup rw,pids\n"
    "30 25 0:27 / /sys/fs/cgroup/freezer rw,nosuid shared:11 - cgroup cgroup "
    "rw,freezer\n";

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nucleo-cgroup-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)fs::removeAll(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void put(const std::string& path, const std::string& content = "") {
  ASSERT_TRUE(fs::makeDirs(std::filesystem::path(path).parent_path()));
  ASSERT_TRUE(fs::writeFileAtomic(path, content));
}

std::string get(const std::string& path) {
  Result<std::string> content = fs::readFile(path);
  EXPECT_TRUE(content) << content.error().message;
  return content ? std::string(strings::trim(*content)) : "";
}

// ---- layout ----

TEST(CgroupLayoutTest, HybridFromThisHostsMountinfo) {
  TempDir root;
  put(root.path() + "/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  Result<CgroupLayout> layout =
      CgroupLayout::fromMountInfo(HYBRID_MOUNTINFO, root.path());
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->mode, CgroupLayout::Mode::Hybrid);
  EXPECT_EQ(layout->v2Mount, root.path() + "/sys/fs/cgroup/unified");
  EXPECT_EQ(layout->v2Controllers, std::set<std::string>{"hugetlb"});
  EXPECT_EQ(layout->v1Mounts.size(), 8u);  // name=systemd holds no controller
  EXPECT_EQ(layout->v1Mounts.at("memory"), root.path() + "/sys/fs/cgroup/memory");
  EXPECT_EQ(layout->versionOf("memory"), CgroupVersion::V1);
  EXPECT_EQ(layout->versionOf("hugetlb"), CgroupVersion::V2);
  EXPECT_EQ(layout->versionOf("freezer"), CgroupVersion::V1);
  EXPECT_FALSE(layout->available("rdma"));
}

TEST(CgroupLayoutTest, UnifiedHasEverythingInV2) {
  TempDir root;
  put(root.path() + "/sys/fs/cgroup/cgroup.controllers",
      "cpuset cpu io memory hugetlb pids rdma misc\n");
  Result<CgroupLayout> layout =
      CgroupLayout::fromMountInfo(UNIFIED_MOUNTINFO, root.path());
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->mode, CgroupLayout::Mode::Unified);
  EXPECT_EQ(layout->v2Mount, root.path() + "/sys/fs/cgroup");
  EXPECT_TRUE(layout->v1Mounts.empty());
  EXPECT_EQ(layout->versionOf("memory"), CgroupVersion::V2);
  EXPECT_TRUE(layout->available("freezer"));  // core in v2
  EXPECT_EQ(layout->versionOf("freezer"), CgroupVersion::V2);
  EXPECT_FALSE(layout->available("devices"));
}

TEST(CgroupLayoutTest, LegacyCoMountedControllersShareADirectory) {
  Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(LEGACY_MOUNTINFO, "/fake");
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->mode, CgroupLayout::Mode::Legacy);
  EXPECT_EQ(layout->v2Mount, "");
  EXPECT_EQ(layout->v1Mounts.at("cpu"), "/fake/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->v1Mounts.at("cpuacct"), "/fake/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->versionOf("pids"), CgroupVersion::V1);
  EXPECT_FALSE(layout->available("hugetlb"));
}

TEST(CgroupLayoutTest, DecodesEscapedMountPoints) {
  Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(
      "28 25 0:25 / /cg\\040mem rw - cgroup cgroup rw,memory\n");
  ASSERT_TRUE(layout) << layout.error().message;
  EXPECT_EQ(layout->v1Mounts.at("memory"), "/cg mem");
}

TEST(CgroupLayoutTest, ErrorsWithoutAnyCgroupMount) {
  Result<CgroupLayout> layout =
      CgroupLayout::fromMountInfo("22 1 0:21 / / rw - ext4 /dev/vda1 rw\n");
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().message.find("no cgroup"), std::string::npos);
}

TEST(CgroupLayoutTest, ErrorsWhenCgroupControllersIsUnreadable) {
  TempDir root;
  Result<CgroupLayout> layout =
      CgroupLayout::fromMountInfo(UNIFIED_MOUNTINFO, root.path());
  ASSERT_FALSE(layout);
  EXPECT_NE(layout.error().message.find("cgroup.controllers"), std::string::npos);
}

TEST(CgroupLayoutTest, DetectsThisHost) {
  Result<CgroupLayout> layout = CgroupLayout::detect();
  if (!layout) GTEST_SKIP() << "no cgroup mounted: " << layout.error().message;
  EXPECT_TRUE(layout->available("memory") || layout->mode != CgroupLayout::Mode::Unified);
}

// ---- paths ----

TEST(CgroupPathTest, NormalisesOciCgroupsPath) {
  EXPECT_EQ(*Cgroup::normalizePath("a/b"), "/a/b");
  EXPECT_EQ(*Cgroup::normalizePath("/a//b/"), "/a/b");
  EXPECT_EQ(*Cgroup::normalizePath("/a/./b"), "/a/b");
}

TEST(CgroupPathTest, RejectsEscapesAndTheRoot) {
  for (const char* bad : {"/a/../b", "..", "/", "", "./."}) {
    Result<std::string> path = Cgroup::normalizePath(bad);
    ASSERT_FALSE(path) << bad;
    EXPECT_NE(path.error().message.find("'" + std::string(bad) + "'"), std::string::npos)
        << path.error().message;
  }
  Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(LEGACY_MOUNTINFO, "/fake");
  ASSERT_TRUE(layout);
  Result<Cgroup> cg = Cgroup::open(*layout, "/nucleo/../../etc");
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find(".."), std::string::npos);
}

// ---- v2 fake tree ----

class CgroupV2FakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/sys/fs/cgroup";
    put(root_ + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    put(root_ + "/cgroup.subtree_control");
    put(root_ + "/test/cgroup.subtree_control");
    for (const char* file : {"memory.max", "memory.low", "memory.swap.max", "memory.high",
                             "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
                             "pids.max", "cgroup.procs", "cgroup.freeze"})
      put(leaf() + "/" + file);
    put(leaf() + "/cgroup.events", "populated 1\nfrozen 1\n");
    Result<CgroupLayout> layout =
        CgroupLayout::fromMountInfo(UNIFIED_MOUNTINFO, tmp_.path());
    ASSERT_TRUE(layout) << layout.error().message;
    layout_ = *layout;
  }
  std::string leaf() const { return root_ + "/test/c1"; }
  Cgroup open() {
    Result<Cgroup> cg = Cgroup::open(layout_, "test/c1");
    EXPECT_TRUE(cg) << cg.error().message;
    return std::move(*cg);
  }

  TempDir tmp_;
  std::string root_;
  CgroupLayout layout_;
};

TEST_F(CgroupV2FakeTest, AppliesConvertedLimitsAndEnablesControllers) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 96 << 20;  // memory+swap: 32 MiB of swap
  limits.memoryReservation = 16 << 20;
  limits.cpuShares = 1024;
  limits.cpuQuota = -1;
  limits.cpusetCpus = "0-1";
  limits.pidsLimit = 0;
  Status applied = cg.apply(limits);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get(leaf() + "/memory.max"), "67108864");
  EXPECT_EQ(get(leaf() + "/memory.swap.max"), "33554432");
  EXPECT_EQ(get(leaf() + "/memory.low"), "16777216");
  EXPECT_EQ(get(leaf() + "/cpu.weight"), "39");  // runc: 1 + (1022 * 9999) / 262142
  EXPECT_EQ(get(leaf() + "/cpu.max"), "max 100000");
  EXPECT_EQ(get(leaf() + "/cpuset.cpus"), "0-1");
  EXPECT_EQ(get(leaf() + "/cpuset.mems"), "");
  EXPECT_EQ(get(leaf() + "/pids.max"), "max");
  EXPECT_EQ(get(root_ + "/cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
  EXPECT_EQ(get(root_ + "/test/cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
}

TEST_F(CgroupV2FakeTest, LeavesAlreadyEnabledControllersAlone) {
  put(root_ + "/cgroup.subtree_control", "cpu memory pids\n");
  Cgroup cg = open();
  CgroupLimits limits;
  limits.pidsLimit = 32;
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(root_ + "/cgroup.subtree_control"), "cpu memory pids");
  EXPECT_EQ(get(root_ + "/test/cgroup.subtree_control"), "+pids");
  EXPECT_EQ(get(leaf() + "/pids.max"), "32");
  EXPECT_EQ(get(leaf() + "/memory.max"), "");  // unset fields stay untouched
}

TEST_F(CgroupV2FakeTest, SharesToWeightCoversTheWholeRange) {
  Cgroup cg = open();
  for (auto [shares, weight] : std::vector<std::pair<uint64_t, std::string>>{
           {2, "1"}, {262144, "10000"}, {0, "1"}, {1000000, "10000"}}) {
    CgroupLimits limits;
    limits.cpuShares = shares;
    ASSERT_TRUE(cg.apply(limits));
    EXPECT_EQ(get(leaf() + "/cpu.weight"), weight) << "shares " << shares;
  }
}

TEST_F(CgroupV2FakeTest, QuotaKeepsTheCurrentPeriod) {
  put(leaf() + "/cpu.max", "max 250000\n");
  Cgroup cg = open();
  CgroupLimits limits;
  limits.cpuQuota = 50000;
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(leaf() + "/cpu.max"), "50000 250000");
  limits.cpuPeriod = 100000;
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(leaf() + "/cpu.max"), "50000 100000");
}

TEST_F(CgroupV2FakeTest, UnlimitedMemoryMeansUnlimitedSwap) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = -1;
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(leaf() + "/memory.max"), "max");
  EXPECT_EQ(get(leaf() + "/memory.swap.max"), "max");
}

TEST_F(CgroupV2FakeTest, RejectsSwapBelowMemoryAndSwapWithoutMemory) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 32 << 20;
  Status applied = cg.apply(limits);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("memorySwap 33554432"), std::string::npos)
      << applied.error().message;
  limits.memoryLimit.reset();
  ASSERT_FALSE(cg.apply(limits));
}

TEST_F(CgroupV2FakeTest, SkipsSwapWithoutSwapAccounting) {
  std::filesystem::remove(leaf() + "/memory.swap.max");
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 128 << 20;
  Status applied = cg.apply(limits);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get(leaf() + "/memory.max"), "67108864");
}

TEST_F(CgroupV2FakeTest, WritesUnifiedKeysAndRejectsBadOnes) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.unified = {{"memory.high", "1073741824"}};
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(leaf() + "/memory.high"), "1073741824");
  EXPECT_EQ(get(root_ + "/cgroup.subtree_control"), "+memory");

  limits.unified = {{"../../escape", "1"}};
  Status bad = cg.apply(limits);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'../../escape'"), std::string::npos);
  limits.unified = {{"memory.nonexistent", "1"}};
  bad = cg.apply(limits);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("memory.nonexistent"), std::string::npos);
}

TEST_F(CgroupV2FakeTest, WriteErrorsNameFileAndValue) {
  std::filesystem::remove(leaf() + "/pids.max");
  Cgroup cg = open();
  CgroupLimits limits;
  limits.pidsLimit = 7;
  Status applied = cg.apply(limits);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().message,
            "write '7' to '" + leaf() + "/pids.max': No such file or directory");
}

TEST_F(CgroupV2FakeTest, FreezeWritesCgroupFreezeAndReadsEvents) {
  Cgroup cg = open();
  ASSERT_TRUE(cg.freeze());
  EXPECT_EQ(get(leaf() + "/cgroup.freeze"), "1");
  EXPECT_TRUE(*cg.frozen());
}

TEST_F(CgroupV2FakeTest, ClonesIntoTheV2DirectoryOnlyOnUnifiedLayouts) {
  Cgroup cg = open();
  Result<UniqueFd> fd = cg.v2DirFd();
  ASSERT_TRUE(fd) << fd.error().message;
  EXPECT_TRUE(fd->valid());
  EXPECT_EQ(cg.dirOf("memory"), leaf());
  EXPECT_EQ(cg.dirOf("devices"), "");
}

// ---- v1 fake tree (this host's hybrid layout) ----

class CgroupV1FakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = tmp_.path() + "/sys/fs/cgroup";
    put(base_ + "/unified/cgroup.controllers", "hugetlb\n");
    for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer",
                          "blkio", "pids", "unified"})
      put(base_ + "/" + h + "/test/c1/cgroup.procs");
    const std::string unlimited = "9223372036854771712\n";
    put(leaf("memory") + "/memory.limit_in_bytes", unlimited);
    put(leaf("memory") + "/memory.memsw.limit_in_bytes", unlimited);
    put(leaf("memory") + "/memory.soft_limit_in_bytes", unlimited);
    put(leaf("memory") + "/memory.oom_control", "oom_kill_disable 0\n");
    put(leaf("cpu") + "/cpu.shares", "1024\n");
    put(leaf("cpu") + "/cpu.cfs_quota_us", "-1\n");
    put(leaf("cpu") + "/cpu.cfs_period_us", "100000\n");
    put(leaf("cpuset") + "/cpuset.cpus", "0-1\n");
    put(leaf("cpuset") + "/cpuset.mems", "0\n");
    put(leaf("pids") + "/pids.max", "max\n");
    put(leaf("freezer") + "/freezer.state", "THAWED\n");
    Result<CgroupLayout> layout =
        CgroupLayout::fromMountInfo(HYBRID_MOUNTINFO, tmp_.path());
    ASSERT_TRUE(layout) << layout.error().message;
    layout_ = *layout;
  }
  std::string leaf(const std::string& hierarchy) const {
    return base_ + "/" + hierarchy + "/test/c1";
  }
  Cgroup open() {
    Result<Cgroup> cg = Cgroup::open(layout_, "/test/c1");
    EXPECT_TRUE(cg) << cg.error().message;
    return std::move(*cg);
  }

  TempDir tmp_;
  std::string base_;
  CgroupLayout layout_;
};

TEST_F(CgroupV1FakeTest, AppliesLimitsToV1Files) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 128 << 20;
  limits.memoryReservation = 32 << 20;
  limits.disableOomKiller = true;
  limits.cpuShares = 512;
  limits.cpuQuota = 50000;
  limits.cpuPeriod = 100000;
  limits.cpusetCpus = "1";
  limits.cpusetMems = "0";
  limits.pidsLimit = 32;
  Status applied = cg.apply(limits);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get(leaf("memory") + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(get(leaf("memory") + "/memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(get(leaf("memory") + "/memory.soft_limit_in_bytes"), "33554432");
  EXPECT_EQ(get(leaf("memory") + "/memory.oom_control"), "1");
  EXPECT_EQ(get(leaf("cpu") + "/cpu.shares"), "512");
  EXPECT_EQ(get(leaf("cpu") + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(get(leaf("cpu") + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(get(leaf("cpuset") + "/cpuset.cpus"), "1");
  EXPECT_EQ(get(leaf("pids") + "/pids.max"), "32");
  // Nothing leaks into the v2 tree, whose only controller is hugetlb.
  EXPECT_FALSE(fs::exists(leaf("unified") + "/memory.max"));
}

TEST_F(CgroupV1FakeTest, UnlimitedValuesUseMinusOne) {
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = -1;
  limits.cpuQuota = -1;
  limits.pidsLimit = -1;
  ASSERT_TRUE(cg.apply(limits));
  EXPECT_EQ(get(leaf("memory") + "/memory.limit_in_bytes"), "-1");
  EXPECT_EQ(get(leaf("memory") + "/memory.memsw.limit_in_bytes"), "-1");
  EXPECT_EQ(get(leaf("cpu") + "/cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(get(leaf("pids") + "/pids.max"), "max");
}

TEST_F(CgroupV1FakeTest, SkipsMemswWithoutSwapAccounting) {
  std::filesystem::remove(leaf("memory") + "/memory.memsw.limit_in_bytes");
  Cgroup cg = open();
  CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.memorySwap = 128 << 20;
  Status applied = cg.apply(limits);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get(leaf("memory") + "/memory.limit_in_bytes"), "67108864");
  EXPECT_FALSE(fs::exists(leaf("memory") + "/memory.memsw.limit_in_bytes"));
}

TEST_F(CgroupV1FakeTest, FreezerStateRoundTrips) {
  Cgroup cg = open();
  ASSERT_TRUE(cg.freeze());
  EXPECT_EQ(get(leaf("freezer") + "/freezer.state"), "FROZEN");
  EXPECT_TRUE(*cg.frozen());
  ASSERT_TRUE(cg.thaw());
  EXPECT_EQ(get(leaf("freezer") + "/freezer.state"), "THAWED");
  EXPECT_FALSE(*cg.frozen());
}

TEST_F(CgroupV1FakeTest, AddProcessJoinsEveryHierarchyAndPidsUnitesThem) {
  Cgroup cg = open();
  ASSERT_TRUE(cg.addProcess(4242));
  for (const char* h : {"cpu", "cpuset", "memory", "freezer", "pids", "unified"})
    EXPECT_EQ(get(leaf(h) + "/cgroup.procs"), "4242") << h;
  put(leaf("memory") + "/cgroup.procs", "12\n4242\n");
  put(leaf("pids") + "/sub/cgroup.procs", "56\n");  // a nested cgroup
  Result<std::vector<pid_t>> pids = cg.pids();
  ASSERT_TRUE(pids) << pids.error().message;
  EXPECT_EQ(*pids, (std::vector<pid_t>{12, 56, 4242}));
}

TEST_F(CgroupV1FakeTest, UnifiedLimitsNeedCgroup2AndV2DirFdNeedsUnified) {
  Result<CgroupLayout> legacy =
      CgroupLayout::fromMountInfo(LEGACY_MOUNTINFO, tmp_.path());
  ASSERT_TRUE(legacy);
  put(tmp_.path() + "/sys/fs/cgroup/cpu,cpuacct/test/c1/cgroup.procs");
  Result<Cgroup> cg = Cgroup::open(*legacy, "/test/c1");
  ASSERT_TRUE(cg) << cg.error().message;
  CgroupLimits limits;
  limits.unified = {{"memory.high", "1"}};
  Status applied = cg->apply(limits);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("cgroup2"), std::string::npos);
  EXPECT_FALSE(open().v2DirFd());  // hybrid: v1 hierarchies would be missed
}

TEST_F(CgroupV1FakeTest, OpenNamesTheMissingHierarchy) {
  std::filesystem::remove_all(base_ + "/pids/test");
  Result<Cgroup> cg = Cgroup::open(layout_, "/test/c1");
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find(base_ + "/pids"), std::string::npos)
      << cg.error().message;
}

// ---- create / destroy on a fake tree ----

TEST(CgroupFakeLifecycleTest, CreateMakesEveryLevelAndDestroyRemovesTheLeaf) {
  TempDir tmp;
  put(tmp.path() + "/sys/fs/cgroup/memory/cgroup.procs");
  put(tmp.path() + "/sys/fs/cgroup/pids/cgroup.procs");
  std::string mountinfo =
      "28 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "29 25 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
  Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(mountinfo, tmp.path());
  ASSERT_TRUE(layout);
  Result<Cgroup> cg = Cgroup::create(*layout, "nucleo/x/y");
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ(cg->path(), "/nucleo/x/y");
  EXPECT_TRUE(fs::exists(tmp.path() + "/sys/fs/cgroup/memory/nucleo/x/y"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/sys/fs/cgroup/pids/nucleo/x/y"));
  ASSERT_TRUE(fs::makeDirs(tmp.path() + "/sys/fs/cgroup/pids/nucleo/x/y/inner"));
  ASSERT_TRUE(cg->destroy());
  EXPECT_FALSE(fs::exists(tmp.path() + "/sys/fs/cgroup/memory/nucleo/x/y"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/sys/fs/cgroup/pids/nucleo/x/y"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/sys/fs/cgroup/pids/nucleo/x"));
  ASSERT_TRUE(cg->destroy());  // already gone is fine
}

TEST(CgroupFakeLifecycleTest, FailedCreateRemovesWhatItMade) {
  TempDir tmp;
  put(tmp.path() + "/sys/fs/cgroup/memory/cgroup.procs");
  // No pids directory: the second hierarchy fails after memory succeeded.
  std::string mountinfo =
      "28 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "29 25 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
  Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(mountinfo, tmp.path());
  ASSERT_TRUE(layout);
  ASSERT_TRUE(fs::makeDirs(tmp.path() + "/sys/fs/cgroup/memory/shared"));
  Result<Cgroup> cg = Cgroup::create(*layout, "/shared/x");
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find("/sys/fs/cgroup/pids"), std::string::npos)
      << cg.error().message;
  EXPECT_FALSE(fs::exists(tmp.path() + "/sys/fs/cgroup/memory/shared/x"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/sys/fs/cgroup/memory/shared"));
}

}  // namespace
}  // namespace nucleo::os
