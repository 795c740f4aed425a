#pragma once
// CPU scheduling knobs of a process: scheduler policy (sched_setattr),
// I/O priority (ioprio_set) and CPU affinity. For process.scheduler,
// process.ioPriority and process.execCPUAffinity of the runtime-spec.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace nucleo::os {

struct SchedulerAttr {
  uint32_t policy = 0;  // SCHED_OTHER, SCHED_FIFO, ...
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t flags = 0;   // SCHED_FLAG_*
  uint64_t runtime = 0, deadline = 0, period = 0;  // SCHED_DEADLINE, ns
};

// "SCHED_FIFO" -> SCHED_FIFO; "SCHED_FLAG_RESET_ON_FORK" -> its bit.
Result<uint32_t> schedulerPolicyFromName(std::string_view name);
Result<uint64_t> schedulerFlagFromName(std::string_view name);
// sched_setattr(2) on the calling thread.
Status setScheduler(const SchedulerAttr& attr);

// "IOPRIO_CLASS_BE" -> the ioprio class; level 0..7.
Result<int> ioPriorityClassFromName(std::string_view name);
// ioprio_set(IOPRIO_WHO_PROCESS, 0, ...).
Status setIoPriority(int ioClass, int level);

// "0-3,7" -> {0,1,2,3,7}; an Error names the list.
Result<std::vector<int>> parseCpuList(std::string_view list);
Status setCpuAffinity(const std::vector<int>& cpus);

}  // namespace nucleo::os
