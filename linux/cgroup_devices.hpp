#pragma once
// Device access rules of a cgroup: v1 devices.allow/devices.deny, and on
// cgroup2 a BPF_PROG_TYPE_CGROUP_DEVICE program (Linux 4.15) built here
// instruction by instruction, as runc and crun do, so no libbpf is needed.

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "base/result.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os {

// "c 1:3 rwm", "a *:* rwm": the v1 devices.allow/deny syntax of a rule.
std::string deviceRuleV1(const CgroupDeviceRule& rule);

// Checks type (a, b, c), access (non-empty subset of rwm) and numbers; the
// error names the rule's index.
Status validateDeviceRules(const std::vector<CgroupDeviceRule>& rules);

// The device program for rules: the last rule that matches the access
// decides (as successive v1 writes would), and a device no rule matches is
// denied. Returns 1 to allow, 0 to deny, reading struct bpf_cgroup_dev_ctx.
std::vector<struct bpf_insn> buildDeviceProgram(const std::vector<CgroupDeviceRule>& rules);

// Loads the program for rules and attaches it to the cgroup2 directory fd
// with BPF_F_ALLOW_MULTI, then detaches the device programs attached to that
// directory before (a previous set of rules). Needs CAP_SYS_ADMIN (CAP_BPF);
// errors name the bpf(2) command that failed.
Status attachDeviceProgram(int cgroupDirFd, const std::string& path,
                           const std::vector<CgroupDeviceRule>& rules);

// Ids of the device programs attached directly to the cgroup2 directory fd.
Result<std::vector<uint32_t>> attachedDevicePrograms(int cgroupDirFd);

}  // namespace nucleo::os
