#pragma once
// Helpers shared by the v1 and v2 halves of Cgroup::apply and by the stats
// reader. Private to linux/cgroup*.cpp.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os::cgroup_internal {

// Which groups of fields a CgroupLimits sets; each needs its controller.
bool memorySet(const CgroupLimits& l);
bool cpuSet(const CgroupLimits& l);
bool cpusetSet(const CgroupLimits& l);
bool ioSet(const CgroupLimits& l);

// A byte limit as a file value: -1 -> unlimited, < -1 an error naming field.
Result<std::string> bytesValue(const char* field, int64_t value, const char* unlimited);

// cpuset.cpus/mems and pids.max have the same file names in v1 and v2.
Status cpusetCommon(const CgroupDir& dir, const CgroupLimits& l);
Status pidsCommon(const CgroupDir& dir, const CgroupLimits& l);

// Writes hugepageLimits to hugetlb.<size>.<suffix> ("max" on v2,
// "limit_in_bytes" on v1); a page size the host lacks is an error naming it.
Status hugetlbCommon(const CgroupDir& dir, const CgroupLimits& l, const char* suffix);

// "8:16" for a device.
std::string deviceKey(const BlockIoDevice& d);

// Reads a flat-keyed file ("key value" lines, e.g. memory.stat) into out.
Status readKeyedFile(const CgroupDir& dir, const std::string& file,
                     std::vector<std::pair<std::string, uint64_t>>& out);
// One value of a flat-keyed file; nullopt if the file or key is missing.
std::optional<uint64_t> keyedValue(const CgroupDir& dir, const std::string& file,
                                   const std::string& key);
// A single-number file; "max" reads as UINT64_MAX, a missing file as nullopt.
std::optional<uint64_t> numberFile(const CgroupDir& dir, const std::string& file);

// The value that restores `file` after writing `value` over `old` (its content
// before), or nullopt if the write cannot be undone (cgroup.procs, devices).
// Per-device files (io.max, blkio.throttle.*) restore the device's old line,
// or its "no limit" form when it had none.
std::optional<std::string> undoValue(const std::string& file, const std::string& old,
                                     const std::string& value);

}  // namespace nucleo::os::cgroup_internal
