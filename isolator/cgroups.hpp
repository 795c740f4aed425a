#pragma once
// Policy for cgroups: OCI linux.resources -> the limits linux/cgroup.hpp
// writes, including the device rules every container gets (as runc's
// specconv adds them).

#include <vector>

#include "linux/cgroup.hpp"
#include "oci/spec.hpp"

namespace nucleo::isolator {

// linux.resources as cgroup limits. When the spec has device rules, the
// default devices (null, zero, full, random, urandom, tty, ptmx, pts/*,
// net/tun) and the nodes of linux.devices are allowed after them, as runc
// does; without rules the device controller is left alone.
os::CgroupLimits planCgroupLimits(const oci::Resources& resources,
                                  const std::vector<oci::Device>& specDevices = {});

// The rules runc allows in every container, after the spec's own.
std::vector<os::CgroupDeviceRule> defaultDeviceRules();

}  // namespace nucleo::isolator
