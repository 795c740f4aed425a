#pragma once
// The root filesystem of a container without an image: the host's, as
// Mesos's filesystem/posix gives it, but seen through a bind in the
// container's own mount namespace so /proc, /dev and /tmp can be fresh.

#include <string>

#include "base/result.hpp"

namespace nucleo::agent {

// Recursively binds / onto target (an empty directory), makes the copy
// private, and detaches its /proc, /sys and /dev subtrees: the runtime
// mounts fresh ones there and refuses to mount over a procfs. Every mount
// under `hide` (the agent's containers directory) is detached from the copy
// too: other containers' root filesystems would otherwise be copied into
// each new one, and the mount table would grow with every container. Errors
// name the step; on error nothing stays mounted.
Status mountHostRootfs(const std::string& target, const std::string& hide);

// Lazily detaches what mountHostRootfs mounted; fine when nothing is there.
Status unmountHostRootfs(const std::string& target);

// True when a mount point lies at or under path (read from mountinfo), so a
// recursive delete there would reach into another file system.
Result<bool> hasMountsUnder(const std::string& path);

}  // namespace nucleo::agent
