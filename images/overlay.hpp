#pragma once
// Overlayfs root filesystems: read-only image layers below, one writable upper
// directory per container above.

#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::images {

// Mounts an overlay of `lowers` (topmost first) with `upper`/`work` on
// `target`. Each lower is passed alone with fsconfig "lowerdir+" (Linux 6.8),
// so no option string limits the layer count; older kernels get a classic
// mount(2) whose lowerdir list uses paths relative to the lowers' common
// parent. Needs CAP_SYS_ADMIN; errors name the target.
Status mountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target);

// Lazily detaches the mount at `target` (the container may still hold it);
// a target that is not a mount point is fine.
Status unmountOverlay(const std::string& target);

}  // namespace nucleo::images
