#pragma once
// The OCI runtime-spec config.json model (versions 1.0 to 1.2) and its parser.
// Parsing checks types and the spec's MUSTs; every error names the field
// ("process.args[0]: expected a string") so a user can fix config.json.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::oci {

struct Mount {
  std::string destination, type, source;
  std::vector<std::string> options;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t soft = 0, hard = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  uint32_t uid = 0, gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additionalGids;
  std::string username;
};

struct Scheduler {
  std::string policy;  // SCHED_OTHER, SCHED_FIFO, ...
  int nice = 0;
  int priority = 0;
  std::vector<std::string> flags;
  uint64_t runtime = 0, deadline = 0, period = 0;
};

struct IoPriority {
  std::string ioClass;  // IOPRIO_CLASS_RT, _BE, _IDLE
  int priority = 0;
};

struct Process {
  bool terminal = false;
  std::optional<std::pair<unsigned, unsigned>> consoleSize;  // height, width
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::string apparmorProfile, selinuxLabel;
  std::optional<int> oomScoreAdj;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> ioPriority;
  std::string cpuAffinityInitial, cpuAffinityFinal;  // execCPUAffinity
};

struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, createRuntime, createContainer, startContainer,
      poststart, poststop;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // join when non-empty
};

struct IdMapping {
  uint32_t containerID = 0, hostID = 0, size = 0;
};

struct Device {
  std::string type;  // c b u p
  std::string path;
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> fileMode, uid, gid;
};

struct DeviceRule {
  bool allow = false;
  std::string type;  // a c b ("" = all)
  std::optional<int64_t> major, minor;
  std::string access;
};

// linux.resources.blockIO device entries: a weight pair or a rate.
struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leafWeight;
};
struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};

struct BlockIO {
  std::optional<uint16_t> weight, leafWeight;
  std::vector<WeightDevice> weightDevice;
  std::vector<ThrottleDevice> throttleReadBpsDevice, throttleWriteBpsDevice,
      throttleReadIOPSDevice, throttleWriteIOPSDevice;
};

struct HugepageLimit {
  std::string pageSize;  // "2MB"
  uint64_t limit = 0;
};

struct NetworkPriority {
  std::string name;
  uint32_t priority = 0;
};

struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<int64_t> memoryLimit, memoryReservation, memorySwap;
  // Deprecated in the spec and refused by recent kernels: parsed, not applied.
  std::optional<int64_t> memoryKernel, memoryKernelTCP;
  std::optional<uint64_t> memorySwappiness;
  std::optional<bool> disableOomKiller;
  std::optional<uint64_t> cpuShares, cpuPeriod;
  std::optional<int64_t> cpuQuota;
  std::optional<uint64_t> cpuBurst;
  std::optional<int64_t> cpuIdle;
  std::optional<int64_t> cpuRealtimeRuntime;
  std::optional<uint64_t> cpuRealtimePeriod;
  std::string cpus, mems;
  std::optional<int64_t> pidsLimit;
  std::optional<BlockIO> blockIO;
  std::vector<HugepageLimit> hugepageLimits;
  std::optional<uint32_t> networkClassID;
  std::vector<NetworkPriority> networkPriorities;
  std::map<std::string, std::string> unified;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, valueTwo = 0;
  std::string op;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures, flags;
  std::string listenerPath, listenerMetadata;
  std::vector<SeccompSyscall> syscalls;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uidMappings, gidMappings;
  std::map<std::string, TimeOffset> timeOffsets;  // monotonic, boottime
  std::vector<Device> devices;
  std::string cgroupsPath;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfsPropagation;
  std::vector<std::string> maskedPaths, readonlyPaths;
  std::string mountLabel;

  bool hasNamespace(const std::string& type) const;
  const Namespace* findNamespace(const std::string& type) const;
};

struct Spec {
  std::string ociVersion;
  std::string rootPath;  // as written; relative to the bundle when not absolute
  bool rootReadonly = false;
  std::optional<Process> process;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;
};

// Parses and validates config.json text. Errors start with the field path.
Result<Spec> parseSpec(std::string_view json);

// Reads <bundle>/config.json and parses it; errors name the file.
Result<Spec> loadSpec(const std::string& bundle);

// Parses a linux.resources object on its own, as `update -r FILE` takes it;
// errors start with the field ("memory.limit: ...").
Result<Resources> parseResourcesJson(std::string_view json);

// Parses a process.json as `exec --process` takes it (the process object alone).
Result<Process> parseProcess(std::string_view json);

// The namespace types the spec knows, and the CLONE_* flag of each.
int namespaceCloneFlag(const std::string& type);

}  // namespace nucleo::oci
