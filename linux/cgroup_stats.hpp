#pragma once
// A container's resource usage, read from whichever hierarchy holds each
// controller, in one structure for v1 and v2 (the shape runc's `events
// --stats` prints). Units are normalised: bytes, nanoseconds, counts.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os {

// One line of a PSI file ("some avg10=0.12 avg60=... total=N").
struct PsiLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  uint64_t total = 0;  // microseconds stalled
};
struct Psi {
  PsiLine some, full;
};

struct MemoryEntry {
  uint64_t usage = 0, max = 0, limit = 0, failcnt = 0;  // limit UINT64_MAX = none
};

struct MemoryStats {
  uint64_t cache = 0;      // page cache: v1 "cache", v2 "file"
  MemoryEntry usage;       // max: v1 max_usage_in_bytes, v2 memory.peak (5.19)
  MemoryEntry swap;        // v1 memsw (memory+swap), v2 swap alone
  std::map<std::string, uint64_t> raw;  // memory.stat as the kernel has it
  uint64_t oomEvents = 0;      // times the limit was hit and reclaim failed
  uint64_t oomKillEvents = 0;  // processes the OOM killer killed
};

struct CpuStats {
  uint64_t totalNs = 0, userNs = 0, kernelNs = 0;
  std::vector<uint64_t> perCpuNs;  // v1 cpuacct only
  uint64_t periods = 0, throttledPeriods = 0, throttledTimeNs = 0;
};

struct PidsStats {
  uint64_t current = 0, limit = 0;  // limit 0 = unlimited
};

// One (device, operation) counter, op "Read", "Write", "Sync", "Async",
// "Discard" or "Total" as runc names them.
struct BlkioEntry {
  uint32_t major = 0, minor = 0;
  std::string op;
  uint64_t value = 0;
};

struct BlkioStats {
  std::vector<BlkioEntry> serviceBytes, serviced;
};

struct HugetlbStats {
  uint64_t usage = 0, max = 0, failcnt = 0;
};

struct CgroupStats {
  std::optional<MemoryStats> memory;
  std::optional<CpuStats> cpu;
  std::optional<PidsStats> pids;
  std::optional<BlkioStats> blkio;
  std::map<std::string, HugetlbStats> hugetlb;  // page size ("2MB") ->
  // Pressure stall information (Linux 4.20, cgroup2 only).
  std::optional<Psi> cpuPressure, memoryPressure, ioPressure;
};

// Reads every statistic the host offers for the cgroup; a controller the host
// lacks leaves its field empty. Errors only when a present file is malformed
// or unreadable (the cgroup was removed, for instance).
Result<CgroupStats> readCgroupStats(const Cgroup& cgroup);

// Parses a PSI file's text; errors name the bad line.
Result<Psi> parsePsi(std::string_view text);

}  // namespace nucleo::os
