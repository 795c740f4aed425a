// Fake-cgroupfs tests of the resources added beyond the basics: io/blkio,
// hugetlb, cpu burst, memory high/min, device rules, the all-or-nothing
// update, statistics, PSI, OOM watching and the BPF device program.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup.hpp"
#include "linux/cgroup_devices.hpp"
#include "linux/cgroup_events.hpp"
#include "linux/cgroup_internal.hpp"
#include "linux/cgroup_stats.hpp"

namespace nucleo::os {
namespace {

constexpr const char* UNIFIED =
    "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
constexpr const char* HYBRID =
    "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-cgres-XXXXXX";
    tmp_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { (void)fs::removeAll(tmp_); }
  void put(const std::string& rel, const std::string& content = "") {
    std::string path = tmp_ + "/sys/fs/cgroup/" + rel;
    ASSERT_TRUE(fs::makeDirs(std::filesystem::path(path).parent_path()));
    ASSERT_TRUE(fs::writeFileAtomic(path, content));
  }
  std::string get(const std::string& rel) {
    Result<std::string> text = fs::readFile(tmp_ + "/sys/fs/cgroup/" + rel);
    EXPECT_TRUE(text) << rel;
    return text ? std::string(strings::trim(*text)) : "";
  }
  Cgroup open(const char* mountinfo) {
    Result<CgroupLayout> layout = CgroupLayout::fromMountInfo(mountinfo, tmp_);
    EXPECT_TRUE(layout) << layout.error().message;
    Result<Cgroup> cg = Cgroup::open(*layout, "/t/c");
    EXPECT_TRUE(cg) << cg.error().message;
    return std::move(*cg);
  }
  void unifiedTree() {
    put("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    put("cgroup.subtree_control");
    put("t/cgroup.subtree_control");
    for (const char* f : {"io.max", "io.weight", "hugetlb.2MB.max", "cpu.max", "cpu.max.burst",
                          "memory.max", "memory.high", "memory.min", "memory.oom.group",
                          "memory.low", "pids.max", "cpuset.cpus", "cgroup.procs"})
      put(std::string("t/c/") + f);
    put("t/c/cpu.max", "max 100000\n");
    put("t/c/memory.max", "max\n");
    put("t/c/pids.max", "max\n");
    put("t/c/io.weight", "default 100\n");
  }
  void hybridTree() {
    put("unified/cgroup.controllers", "hugetlb\n");
    put("unified/cgroup.subtree_control");
    put("unified/t/cgroup.subtree_control");
    for (const char* h : {"cpu", "cpuacct", "memory", "devices", "blkio", "pids", "net_cls",
                          "unified"})
      put(std::string(h) + "/t/c/cgroup.procs");
    put("blkio/t/c/blkio.weight", "500\n");
    put("blkio/t/c/blkio.throttle.read_bps_device");
    put("blkio/t/c/blkio.throttle.write_iops_device");
    put("devices/t/c/devices.allow");
    put("devices/t/c/devices.deny");
    put("net_cls/t/c/net_cls.classid", "0\n");
    put("unified/t/c/hugetlb.2MB.max", "max\n");
    put("memory/t/c/memory.limit_in_bytes", "9223372036854771712\n");
    put("memory/t/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  }
  std::string tmp_;
};

TEST_F(CgroupTree, V2WritesIoHugetlbBurstAndMemoryProtection) {
  unifiedTree();
  Cgroup cg = open(UNIFIED);
  CgroupLimits l;
  l.blkioWeight = 1000;
  l.throttleReadBps = {{8, 0, 1048576}};
  l.throttleWriteIops = {{8, 16, 0}};
  l.hugepageLimits["2MB"] = 4 << 21;
  l.cpuQuota = 50000;
  l.cpuBurst = 10000;
  l.memoryHigh = 1 << 30;
  l.memoryMin = 1 << 20;
  l.memoryOomGroup = true;
  Status applied = cg.apply(l);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get("t/c/io.weight"), "10000");  // 1 + (1000-10)*9999/990
  EXPECT_EQ(get("t/c/io.max"), "8:16 wiops=max");  // the last write of the fake file
  EXPECT_EQ(get("t/c/hugetlb.2MB.max"), std::to_string(4 << 21));
  EXPECT_EQ(get("t/c/cpu.max"), "50000 100000");
  EXPECT_EQ(get("t/c/cpu.max.burst"), "10000");
  EXPECT_EQ(get("t/c/memory.high"), std::to_string(1 << 30));
  EXPECT_EQ(get("t/c/memory.min"), std::to_string(1 << 20));
  EXPECT_EQ(get("t/c/memory.oom.group"), "1");
  EXPECT_EQ(get("t/cgroup.subtree_control"), "+cpu +hugetlb +io +memory");
}

TEST_F(CgroupTree, V2RejectsAPageSizeTheHostLacksAndV1Net) {
  unifiedTree();
  Cgroup cg = open(UNIFIED);
  CgroupLimits l;
  l.hugepageLimits["1GB"] = 1;
  Status applied = cg.apply(l);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("'1GB'"), std::string::npos) << applied.error().message;
  CgroupLimits net;
  net.netClassId = 0x100001;
  applied = cg.apply(net);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("net_cls"), std::string::npos);
}

TEST_F(CgroupTree, V1WritesBlkioDevicesNetClsAndHugetlbOnTheUnifiedSide) {
  hybridTree();
  Cgroup cg = open(HYBRID);
  CgroupLimits l;
  l.blkioWeight = 300;
  l.throttleReadBps = {{8, 0, 2097152}};
  l.throttleWriteIops = {{8, 0, 100}};
  l.netClassId = 0x100001;
  l.hugepageLimits["2MB"] = 2097152;
  l.devices = std::vector<CgroupDeviceRule>{{false, 'a', -1, -1, "rwm"},
                                           {true, 'c', 1, 3, "rwm"},
                                           {true, 'c', 136, -1, "rw"}};
  Status applied = cg.apply(l);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get("blkio/t/c/blkio.weight"), "300");
  EXPECT_EQ(get("blkio/t/c/blkio.throttle.read_bps_device"), "8:0 2097152");
  EXPECT_EQ(get("blkio/t/c/blkio.throttle.write_iops_device"), "8:0 100");
  EXPECT_EQ(get("net_cls/t/c/net_cls.classid"), "1048577");
  EXPECT_EQ(get("unified/t/c/hugetlb.2MB.max"), "2097152");
  EXPECT_EQ(get("devices/t/c/devices.deny"), "a *:* rwm");
  EXPECT_EQ(get("devices/t/c/devices.allow"), "c 136:* rw");  // the last allow written
}

TEST_F(CgroupTree, V1RefusesV2OnlyMemoryKnobs) {
  hybridTree();
  Cgroup cg = open(HYBRID);
  CgroupLimits l;
  l.memoryHigh = 1 << 20;
  Status applied = cg.apply(l);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("cgroup2"), std::string::npos);
}

TEST_F(CgroupTree, FailedUpdateRestoresEveryEarlierWrite) {
  unifiedTree();
  put("t/c/cpu.max", "20000 100000\n");
  put("t/c/memory.max", "67108864\n");
  put("t/c/pids.max", "50\n");
  // cpuset.cpus as a directory: its write fails after memory, cpu and pids.
  ASSERT_EQ(::unlink((tmp_ + "/sys/fs/cgroup/t/c/cpuset.cpus").c_str()), 0);
  ASSERT_TRUE(fs::makeDirs(tmp_ + "/sys/fs/cgroup/t/c/cpuset.cpus"));
  Cgroup cg = open(UNIFIED);
  CgroupLimits l;
  l.memoryLimit = 1 << 30;
  l.cpuQuota = 90000;
  l.cpusetCpus = "0";
  Status updated = cg.update(l);
  ASSERT_FALSE(updated);
  EXPECT_NE(updated.error().message.find("cpuset.cpus"), std::string::npos);
  EXPECT_EQ(get("t/c/memory.max"), "67108864");
  EXPECT_EQ(get("t/c/cpu.max"), "20000 100000");
  EXPECT_EQ(get("t/c/pids.max"), "50");
  // Without the failing field the same update goes through.
  l.cpusetCpus.reset();
  ASSERT_TRUE(cg.update(l));
  EXPECT_EQ(get("t/c/memory.max"), std::to_string(1 << 30));
}

TEST(CgroupUndoTest, PerDeviceFilesRestoreTheDeviceLineOrItsNoLimitForm) {
  using cgroup_internal::undoValue;
  EXPECT_EQ(undoValue("io.max", "8:0 rbps=100 wbps=max riops=max wiops=max\n", "8:0 rbps=5"),
            "8:0 rbps=100 wbps=max riops=max wiops=max");
  EXPECT_EQ(undoValue("io.max", "", "8:16 wbps=5"),
            "8:16 rbps=max wbps=max riops=max wiops=max");
  EXPECT_EQ(undoValue("io.weight", "default 100\n", "5000"), "100");
  EXPECT_EQ(undoValue("blkio.throttle.read_bps_device", "", "8:0 10"), "8:0 0");
  EXPECT_EQ(undoValue("memory.oom_control", "oom_kill_disable 1\nunder_oom 0\n", "0"), "1");
  EXPECT_EQ(undoValue("cpu.max", "max 100000\n", "1000 100000"), "max 100000");
  EXPECT_FALSE(undoValue("cgroup.procs", "1\n", "2"));
}

TEST_F(CgroupTree, StatsFromAV2Tree) {
  unifiedTree();
  put("t/c/memory.current", "1048576\n");
  put("t/c/memory.peak", "2097152\n");
  put("t/c/memory.max", "67108864\n");
  put("t/c/memory.stat", "anon 4096\nfile 8192\n");
  put("t/c/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n");
  put("t/c/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
                      "nr_periods 10\nnr_throttled 4\nthrottled_usec 250\n");
  put("t/c/pids.current", "3\n");
  put("t/c/pids.max", "max\n");
  put("t/c/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
  put("t/c/hugetlb.2MB.current", "2097152\n");
  put("t/c/hugetlb.2MB.max", "4194304\n");
  put("t/c/hugetlb.2MB.events", "max 3\n");
  put("t/c/cpu.pressure", "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\n"
                          "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  Cgroup cg = open(UNIFIED);
  Result<CgroupStats> s = readCgroupStats(cg);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->memory && s->cpu && s->pids && s->blkio && s->cpuPressure);
  EXPECT_EQ(s->memory->usage.usage, 1048576u);
  EXPECT_EQ(s->memory->usage.max, 2097152u);
  EXPECT_EQ(s->memory->usage.limit, 67108864u);
  EXPECT_EQ(s->memory->cache, 8192u);
  EXPECT_EQ(s->memory->usage.failcnt, 7u);
  EXPECT_EQ(s->memory->oomEvents, 2u);
  EXPECT_EQ(s->memory->oomKillEvents, 1u);
  EXPECT_EQ(s->cpu->totalNs, 1500000u);
  EXPECT_EQ(s->cpu->userNs, 1000000u);
  EXPECT_EQ(s->cpu->throttledPeriods, 4u);
  EXPECT_EQ(s->cpu->throttledTimeNs, 250000u);
  EXPECT_EQ(s->pids->current, 3u);
  EXPECT_EQ(s->pids->limit, 0u);
  ASSERT_EQ(s->blkio->serviceBytes.size(), 3u);
  EXPECT_EQ(s->blkio->serviceBytes[1].op, "Write");
  EXPECT_EQ(s->blkio->serviceBytes[1].value, 200u);
  EXPECT_EQ(s->hugetlb["2MB"].usage, 2097152u);
  EXPECT_EQ(s->hugetlb["2MB"].failcnt, 3u);
  EXPECT_DOUBLE_EQ(s->cpuPressure->some.avg10, 1.5);
  EXPECT_EQ(s->cpuPressure->some.total, 12345u);
  EXPECT_FALSE(s->memoryPressure);  // no memory.pressure file: no PSI
}

TEST_F(CgroupTree, StatsFromAV1Tree) {
  hybridTree();
  put("memory/t/c/memory.usage_in_bytes", "4096\n");
  put("memory/t/c/memory.stat", "cache 100\ntotal_cache 300\nrss 5\n");
  put("memory/t/c/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put("cpuacct/t/c/cpuacct.usage", "5000\n");
  put("cpuacct/t/c/cpuacct.usage_percpu", "2000 3000 \n");
  put("cpu/t/c/cpu.stat", "nr_periods 5\nnr_throttled 1\nthrottled_time 777\n");
  put("pids/t/c/pids.current", "2\n");
  put("pids/t/c/pids.max", "64\n");
  put("blkio/t/c/blkio.throttle.io_service_bytes_recursive",
      "8:0 Read 512\n8:0 Write 1024\n8:0 Total 1536\nTotal 1536\n");
  Cgroup cg = open(HYBRID);
  Result<CgroupStats> s = readCgroupStats(cg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->memory->usage.usage, 4096u);
  EXPECT_EQ(s->memory->cache, 300u);
  EXPECT_EQ(s->memory->oomKillEvents, 2u);
  EXPECT_EQ(s->cpu->totalNs, 5000u);
  EXPECT_EQ(s->cpu->perCpuNs, (std::vector<uint64_t>{2000, 3000}));
  EXPECT_EQ(s->cpu->throttledTimeNs, 777u);
  EXPECT_EQ(s->pids->limit, 64u);
  ASSERT_EQ(s->blkio->serviceBytes.size(), 3u);
  EXPECT_EQ(s->blkio->serviceBytes[0].value, 512u);
}

TEST(CgroupPsiTest, RejectsMalformedLines) {
  EXPECT_FALSE(parsePsi("some avg10=x\n"));
  EXPECT_FALSE(parsePsi("most avg10=1\n"));
  Result<Psi> psi = parsePsi("full avg10=0.00 avg60=2.5 avg300=0.00 total=9\n");
  ASSERT_TRUE(psi);
  EXPECT_DOUBLE_EQ(psi->full.avg60, 2.5);
}

TEST_F(CgroupTree, OomWatcherSeesMemoryEventsRiseThroughInotify) {
  unifiedTree();
  put("t/c/memory.events", "oom 0\noom_kill 0\n");
  Cgroup cg = open(UNIFIED);
  Result<OomWatcher> w = OomWatcher::create(cg);
  ASSERT_TRUE(w) << w.error().message;
  Result<uint64_t> none = w->wait(std::chrono::milliseconds(10));
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  // In place (not writeFileAtomic, which replaces the watched inode).
  ASSERT_TRUE(fs::writeExisting(tmp_ + "/sys/fs/cgroup/t/c/memory.events",
                                "oom 2\noom_kill 2\n"));
  Result<uint64_t> two = w->wait(std::chrono::milliseconds(1000));
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(*two, 2u);
}

// A tiny interpreter of the instructions buildDeviceProgram emits, so the
// program's verdicts are checked without loading it into a kernel.
int runDeviceProgram(const std::vector<struct bpf_insn>& prog, char type, uint32_t access,
                     uint32_t major, uint32_t minor) {
  uint32_t ctx[3] = {(access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR),
                     major, minor};
  uint64_t r[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const struct bpf_insn& i = prog[pc];
    uint64_t src = BPF_SRC(i.code) == BPF_X ? r[i.src_reg] : static_cast<uint32_t>(i.imm);
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W: r[i.dst_reg] = ctx[i.off / 4]; break;
      case BPF_ALU | BPF_AND | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg] & src); break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) >> src; break;
      case BPF_ALU | BPF_MOV | BPF_K:
      case BPF_ALU | BPF_MOV | BPF_X: r[i.dst_reg] = static_cast<uint32_t>(src); break;
      case BPF_JMP | BPF_JNE | BPF_K:
      case BPF_JMP | BPF_JNE | BPF_X: if (r[i.dst_reg] != src) pc += i.off; break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
      default: ADD_FAILURE() << "unexpected opcode " << int(i.code); return -1;
    }
  }
  ADD_FAILURE() << "fell off the end";
  return -1;
}

TEST(CgroupDeviceProgramTest, LastMatchingRuleDecidesAndTheRestIsDenied) {
  std::vector<CgroupDeviceRule> rules = {{false, 'a', -1, -1, "rwm"},
                                         {true, 'c', 1, 3, "rwm"},
                                         {true, 'c', 136, -1, "rw"},
                                         {true, 'b', -1, -1, "m"},
                                         {false, 'c', 136, 5, "w"}};
  auto prog = buildDeviceProgram(rules);
  const uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
  EXPECT_EQ(runDeviceProgram(prog, 'c', R | W, 1, 3), 1);   // /dev/null
  EXPECT_EQ(runDeviceProgram(prog, 'c', R, 1, 5), 0);       // /dev/zero: deny-all
  EXPECT_EQ(runDeviceProgram(prog, 'c', R | W, 136, 2), 1); // any pty
  EXPECT_EQ(runDeviceProgram(prog, 'c', M, 136, 2), 0);     // but no mknod
  EXPECT_EQ(runDeviceProgram(prog, 'c', W, 136, 5), 0);     // later deny wins
  EXPECT_EQ(runDeviceProgram(prog, 'c', R, 136, 5), 1);
  EXPECT_EQ(runDeviceProgram(prog, 'b', M, 8, 0), 1);
  EXPECT_EQ(runDeviceProgram(prog, 'b', R, 8, 0), 0);
  // An allow-all rule at the end makes everything before it moot.
  rules.push_back({true, 'a', -1, -1, "rwm"});
  EXPECT_EQ(runDeviceProgram(buildDeviceProgram(rules), 'c', W, 136, 5), 1);
  EXPECT_EQ(buildDeviceProgram(rules).size(), 8u);  // prologue + one block
}

TEST(CgroupDeviceProgramTest, RulesAreValidatedAndWrittenInV1Syntax) {
  EXPECT_EQ(deviceRuleV1({true, 'c', 136, -1, "rw"}), "c 136:* rw");
  EXPECT_EQ(deviceRuleV1({false, 'a', -1, -1, "rwm"}), "a *:* rwm");
  Status bad = validateDeviceRules({{true, 'c', 1, 3, "rwx"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("devices[0].access"), std::string::npos);
  EXPECT_FALSE(validateDeviceRules({{true, 'p', 1, 3, "r"}}));
}

}  // namespace
}  // namespace nucleo::os
