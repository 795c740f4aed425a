#pragma once
// Container cgroups across v1 (legacy), hybrid and v2 (unified) hosts. Every
// file is written through a directory fd per hierarchy, so a cgroup cannot be
// redirected by a path string, and the whole layer runs on a fake cgroupfs
// under a tmpdir in unit tests.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {

enum class CgroupVersion { V1, V2 };

// Which hierarchy each controller lives in on a host. A controller is bound to
// exactly one hierarchy at a time, so "v2 if listed in the v2 root's
// cgroup.controllers, else v1 if mounted" is unambiguous.
struct CgroupLayout {
  // Unified: only cgroup2. Hybrid: v1 controllers plus a cgroup2 (systemd's
  // /sys/fs/cgroup/unified). Legacy: v1 only.
  enum class Mode { Unified, Hybrid, Legacy };
  Mode mode = Mode::Legacy;
  // Absolute directory of the cgroup2 mount (rootPrefix included); "" if none.
  std::string v2Mount;
  // Controller -> mount point of its v1 hierarchy (rootPrefix included).
  // Co-mounted controllers ("cpu,cpuacct") all map to the same directory.
  std::map<std::string, std::string> v1Mounts;
  // Controllers the v2 root offers (<v2Mount>/cgroup.controllers).
  std::set<std::string> v2Controllers;

  // True if the controller can be used at all. "freezer" counts as available
  // on any cgroup2 mount, because the v2 freezer is core (cgroup.freeze,
  // Linux 5.2) and never appears in cgroup.controllers.
  bool available(const std::string& controller) const;
  // V2 if the controller is in v2Controllers (or is the core v2 freezer with
  // no v1 freezer mounted), else V1. Check available() first: an unavailable
  // controller reports V2 on unified hosts and V1 otherwise.
  CgroupVersion versionOf(const std::string& controller) const;

  // This host, from /proc/self/mountinfo. Errors if no cgroup is mounted.
  static Result<CgroupLayout> detect();
  // Parses mountinfo text; every mount point gets rootPrefix prepended, and
  // cgroup.controllers is read from <rootPrefix><v2 mount point>, so tests can
  // point this at a fake tree. Errors if no cgroup mount is found or
  // cgroup.controllers cannot be read.
  static Result<CgroupLayout> fromMountInfo(std::string_view mountinfo,
                                            const std::string& rootPrefix = "");
};

// One linux.resources.devices rule. type 'a' matches every device; major or
// minor -1 is the wildcard '*'. access is a subset of "rwm".
struct CgroupDeviceRule {
  bool allow = false;
  char type = 'a';
  int64_t major = -1, minor = -1;
  std::string access = "rwm";
};

// A per-device block I/O value: a weight (blkio weightDevice) or a rate in
// bytes or operations per second (the throttle lists).
struct BlockIoDevice {
  uint32_t major = 0, minor = 0;
  uint64_t value = 0;
};

// OCI linux.resources as the mechanism takes it; an unset field leaves the
// kernel's value alone, so the same struct serves create and `update`.
struct CgroupLimits {
  // Bytes; -1 = unlimited. memoryReservation is v1 memory.soft_limit_in_bytes
  // and v2 memory.low (as runc and crun). memorySwap is memory+swap as in OCI
  // and v1 (0 = unset, like runc); on v2 it becomes memory.swap.max =
  // memorySwap - memoryLimit. Swap limits are skipped when the kernel has no
  // swap accounting (no memsw / swap.max file), so that OCI bundles made for
  // swap-accounting hosts still start.
  std::optional<int64_t> memoryLimit, memoryReservation, memorySwap;
  // v2 only (memory.high, memory.min, memory.oom.group): an error on a v1
  // memory controller, since v1 has nothing that enforces them.
  std::optional<int64_t> memoryHigh, memoryMin;
  std::optional<bool> memoryOomGroup;
  // v1 memory.swappiness (0-100); ignored on v2, which has no per-cgroup knob.
  std::optional<uint64_t> memorySwappiness;
  // v1 memory.oom_control. v2 has no equivalent; ignored there, like runc.
  std::optional<bool> disableOomKiller;
  // cpuShares becomes v2 cpu.weight = 1 + ((shares - 2) * 9999) / 262142
  // (runc's mapping, shares clamped to [2, 262144]). cpuQuota < 0 = no quota;
  // on v2 an unset quota or period keeps the value already in cpu.max.
  // Microseconds. cpuBurst is v2 cpu.max.burst / v1 cpu.cfs_burst_us (5.14).
  std::optional<uint64_t> cpuShares;
  std::optional<int64_t> cpuQuota;
  std::optional<uint64_t> cpuPeriod, cpuBurst;
  // v2 cpu.idle (5.15): 1 puts the cgroup in SCHED_IDLE. Error on v1.
  std::optional<int64_t> cpuIdle;
  std::optional<std::string> cpusetCpus, cpusetMems;
  // <= 0 = unlimited ("max").
  std::optional<int64_t> pidsLimit;
  // blkio weight 10-1000: v1 blkio.weight, v2 io.bfq.weight when present, else
  // io.weight converted as runc does (1 + (w - 10) * 9999 / 990).
  std::optional<uint16_t> blkioWeight;
  std::vector<BlockIoDevice> blkioWeightDevice;
  // Rates per device: v1 blkio.throttle.*_device, v2 io.max rbps/wbps/riops/wiops.
  std::vector<BlockIoDevice> throttleReadBps, throttleWriteBps, throttleReadIops,
      throttleWriteIops;
  // Page size as the kernel names it ("2MB", "1GB") -> bytes.
  std::map<std::string, uint64_t> hugepageLimits;
  // v1 net_cls.classid and net_prio.ifpriomap (interface -> priority); v2 has
  // no such controllers, so they are an error there.
  std::optional<uint32_t> netClassId;
  std::map<std::string, uint32_t> netPriorities;
  // nullopt leaves the device controller alone. Rules are applied in order,
  // the last matching rule decides; a device no rule matches is denied on v2
  // (BPF program) and keeps the parent's access on v1.
  std::optional<std::vector<CgroupDeviceRule>> devices;
  // linux.resources.unified: file name -> value, written in the v2 directory.
  // Error on hosts without cgroup2.
  std::map<std::string, std::string> unified;
};

// One write to undo if a later write of the same update fails.
struct CgroupUndo {
  int fd = -1;
  std::string path, file, value;
};

// A non-owning view of one cgroup directory in one hierarchy: interface files
// are opened relative to fd; path (absolute) only appears in error messages.
struct CgroupDir {
  int fd = -1;
  std::string path;
  // When set, write() first records how to restore the file's old value.
  std::vector<CgroupUndo>* journal = nullptr;

  // Reads a whole interface file; errors name the absolute file.
  Result<std::string> read(const std::string& file) const;
  // Writes value with O_TRUNC to an existing file; errors name value and file.
  Status write(const std::string& file, std::string_view value) const;
  // True if the file exists (e.g. memory.memsw.* needs swap accounting).
  bool has(const std::string& file) const;
};

// A container's cgroup in every hierarchy of a layout (all v1 hierarchies with
// a known controller, plus the cgroup2 one when mounted). Move-only: it owns
// one directory fd per hierarchy.
class Cgroup {
 public:
  // Normalises an OCI cgroupsPath: "a/b", "/a//b/" and "/a/./b" -> "/a/b".
  // Errors on ".." components and on the root itself.
  static Result<std::string> normalizePath(std::string_view path);

  // mkdir -p of path in every hierarchy (an existing cgroup is reused). v1
  // cpuset directories get their parent's cpus/mems, or tasks could not join.
  // On failure removes the directories it made and returns the first error.
  static Result<Cgroup> create(const CgroupLayout& layout, const std::string& path);
  // An existing cgroup; errors naming the first hierarchy where it is missing.
  static Result<Cgroup> open(const CgroupLayout& layout, const std::string& path);

  // Writes the set fields (see CgroupLimits) to the controllers' files, v2
  // where the controller is in v2, v1 otherwise; on v2 first enables the
  // needed controllers in cgroup.subtree_control of every ancestor. Errors
  // name the file and value; earlier writes are not rolled back.
  Status apply(const CgroupLimits& limits);

  // apply() that is all-or-nothing: every file written is read first, and if
  // any write fails the earlier ones are restored in reverse order. The error
  // names the failed file and value (and any restore that failed too). Device
  // rules are not part of the journal; they are applied last.
  Status update(const CgroupLimits& limits);

  // Moves pid (a process, with all its threads) into the cgroup in every
  // hierarchy. Errors name the hierarchy; a failed move may be partial.
  Status addProcess(pid_t pid);

  // A fresh O_DIRECTORY fd of the v2 directory, for clone3's
  // CLONE_INTO_CGROUP (Linux 5.7). Errors unless the layout is Unified, since
  // on other layouts the child would still miss the v1 hierarchies.
  Result<UniqueFd> v2DirFd() const;

  // How a new child enters this cgroup in every hierarchy without the
  // kernel's global threadgroup lock, whose RCU grace period costs 5-25 ms
  // per attach by pid on v1 hierarchies: clone3 with CLONE_INTO_CGROUP into
  // `cloneInto` (the v2 directory; invalid without one), then the child, still
  // single-threaded, calls joinSelf() on `selfTasks` (each v1 hierarchy's
  // `tasks` file, opened here so the child needs no access to cgroupfs).
  struct ChildPlacement {
    UniqueFd cloneInto;
    std::vector<UniqueFd> selfTasks;
  };
  Result<ChildPlacement> childPlacement() const;
  // Moves the calling thread (the whole process when it has one thread) into
  // the hierarchies behind `tasksFds` by writing "0" to each. Async-signal
  // safe apart from the error message.
  static Status joinSelf(const std::vector<int>& tasksFds);

  // Every process in the cgroup and its descendant cgroups, across all
  // hierarchies, sorted and without duplicates.
  Result<std::vector<pid_t>> pids() const;

  // Freezes every task and waits (up to ~10 s) until the kernel reports the
  // cgroup frozen: v2 cgroup.freeze + cgroup.events, v1 freezer.state. Errors
  // if no freezer is available or the state is not reached (then thaws).
  Status freeze();
  // Thaws the cgroup and waits until it is no longer frozen.
  Status thaw();
  // True once the kernel reports the cgroup fully frozen.
  Result<bool> frozen() const;

  // Sends signal to every process. SIGKILL on v2 uses cgroup.kill (Linux 5.14)
  // when present; otherwise the cgroup is frozen so nothing forks away, every
  // pid is signalled, and it is thawed again unless it was frozen before (a
  // SIGKILLed task in a v1 frozen cgroup only dies once thawed).
  Status killAll(int signal);

  // rmdir in every hierarchy, descendant cgroups first, retrying briefly on
  // EBUSY while killed tasks finish exiting. Already-missing directories are
  // fine. Parents of path are left alone (other containers may share them).
  Status destroy();

  // The directory of the hierarchy that holds controller, or nullopt if the
  // host lacks the controller. Valid while this Cgroup lives.
  std::optional<CgroupDir> controllerDir(const std::string& controller) const;
  // The cgroup2 directory (also on hybrid hosts), or nullopt without cgroup2.
  std::optional<CgroupDir> unifiedDir() const;
  const CgroupLayout& layout() const { return layout_; }

  // The normalised path, e.g. "/nucleo/<id>".
  const std::string& path() const { return path_; }
  // Absolute directory of this cgroup in the hierarchy holding controller
  // (e.g. "/sys/fs/cgroup/memory/nucleo/x"); "" if it is not available.
  std::string dirOf(const std::string& controller) const;

  Cgroup(Cgroup&&) noexcept = default;
  Cgroup& operator=(Cgroup&&) noexcept = default;

 private:
  struct Hierarchy {
    CgroupVersion version;
    std::string mountPoint;
    std::vector<std::string> controllers;  // v1 only; v2 uses the layout
    UniqueFd dir;
  };

  Cgroup() = default;
  static Result<Cgroup> build(const CgroupLayout& layout, const std::string& path,
                              bool create);
  const Hierarchy* find(const std::string& controller) const;
  const Hierarchy* v2() const;
  CgroupDir dirAt(const Hierarchy& hierarchy) const;
  Status checkAvailable(const CgroupLimits& limits) const;
  Status applyDevices(const CgroupLimits& limits);
  Status applyV1(const CgroupLimits& limits);
  Status applyV2(const CgroupLimits& limits);
  Status enableV2Controllers(const std::set<std::string>& controllers);
  Status freezeV1(bool freeze);
  Status freezeV2(bool freeze);

  CgroupLayout layout_;
  std::string path_;
  std::vector<Hierarchy> hierarchies_;  // v2 first when present
  std::vector<CgroupUndo>* journal_ = nullptr;  // set during update()
};

}  // namespace nucleo::os
