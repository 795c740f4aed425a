#include "linux/scheduling.hpp"

#include <linux/ioprio.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/strings.hpp"

namespace nucleo::os {

Result<uint32_t> schedulerPolicyFromName(std::string_view name) {
  static const std::pair<const char*, uint32_t> policies[] = {
      {"SCHED_OTHER", SCHED_NORMAL}, {"SCHED_FIFO", SCHED_FIFO},   {"SCHED_RR", SCHED_RR},
      {"SCHED_BATCH", SCHED_BATCH},  {"SCHED_ISO", 4},             {"SCHED_IDLE", SCHED_IDLE},
      {"SCHED_DEADLINE", SCHED_DEADLINE}};
  for (const auto& [n, v] : policies)
    if (name == n) return v;
  return Error::make("unknown scheduler policy \"{}\"", name);
}

Result<uint64_t> schedulerFlagFromName(std::string_view name) {
  static const std::pair<const char*, uint64_t> flags[] = {
      {"SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK},
      {"SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM},
      {"SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN},
      {"SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY},
      {"SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS},
      {"SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN},
      {"SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX}};
  for (const auto& [n, v] : flags)
    if (name == n) return v;
  return Error::make("unknown scheduler flag \"{}\"", name);
}

// struct sched_attr of <linux/sched/types.h>, which clashes with <sched.h>.
struct KernelSchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};

Status setScheduler(const SchedulerAttr& a) {
  KernelSchedAttr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.sched_policy = a.policy;
  attr.sched_flags = a.flags;
  attr.sched_nice = a.nice;
  attr.sched_priority = a.priority;
  attr.sched_runtime = a.runtime;
  attr.sched_deadline = a.deadline;
  attr.sched_period = a.period;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
    return Error::fromErrno("process.scheduler: sched_setattr");
  return ok();
}

Result<int> ioPriorityClassFromName(std::string_view name) {
  if (name == "IOPRIO_CLASS_RT") return IOPRIO_CLASS_RT;
  if (name == "IOPRIO_CLASS_BE") return IOPRIO_CLASS_BE;
  if (name == "IOPRIO_CLASS_IDLE") return IOPRIO_CLASS_IDLE;
  return Error::make("unknown I/O priority class \"{}\"", name);
}

Status setIoPriority(int ioClass, int level) {
  if (::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(ioClass, level)) < 0)
    return Error::fromErrno("process.ioPriority: ioprio_set");
  return ok();
}

Result<std::vector<int>> parseCpuList(std::string_view list) {
  std::vector<int> cpus;
  for (const auto& part : strings::split(list, ',', true)) {
    auto dash = part.find('-');
    auto first = strings::toUint(part.substr(0, dash));
    auto last = dash == std::string::npos ? first : strings::toUint(part.substr(dash + 1));
    if (!first || !last || *last < *first || *last >= CPU_SETSIZE)
      return Error::make("\"{}\" is not a CPU list such as 0-3,7", list);
    for (uint64_t cpu = *first; cpu <= *last; ++cpu) cpus.push_back(static_cast<int>(cpu));
  }
  if (cpus.empty()) return Error::make("\"{}\" is not a CPU list such as 0-3,7", list);
  return cpus;
}

Status setCpuAffinity(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) < 0) return Error::fromErrno("sched_setaffinity");
  return ok();
}

}  // namespace nucleo::os
