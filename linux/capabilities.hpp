#pragma once
// Capability names and the switch of a container init to its user, groups
// and capability sets.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace nucleo::os {

// Capability number from an OCI name such as "CAP_SYS_ADMIN" (the prefix is
// required, case matters). Error: `unknown capability "CAP_FOO"`. Names the
// running kernel lacks still resolve; applyIdentity rejects them.
Result<int> capabilityFromName(std::string_view name);

// "CAP_SYS_ADMIN" for 21; "CAP_<n>" for numbers this build has no name for.
std::string capabilityName(int cap);

// The highest capability the running kernel knows (/proc/sys/kernel/
// cap_last_cap, else probed with PR_CAPBSET_READ); read once and cached.
int lastCapability();

// Capability numbers per set, as in the OCI process.capabilities object.
struct CapabilitySets {
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

// Credentials of the container process; umask is left alone when unset.
struct Identity {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additionalGids;
  std::optional<mode_t> umask;
};

// Checks what the kernel would otherwise refuse with a bare EPERM: every cap
// within 0..lastCapability(), effective and ambient within permitted, ambient
// and inheritable within bounding, ambient within inheritable. Errors name
// the set and the capability.
Status validateCapabilitySets(const CapabilitySets& caps);

// Switches to `id` keeping exactly `caps`: drop the bounding set,
// PR_SET_KEEPCAPS, setgroups (skipped when the user namespace denies it and
// the list is empty), setresgid, setresuid, capset, raise ambient, clear
// keepcaps, umask. Needs CAP_SETPCAP, CAP_SETUID and CAP_SETGID effective on
// entry. Runs in a container init before execve: no logging; errors name the
// step, and a failure may leave the process half switched, so callers exit.
Status applyIdentity(const Identity& id, const CapabilitySets& caps);

}  // namespace nucleo::os
