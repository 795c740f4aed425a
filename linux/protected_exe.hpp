#pragma once
// CVE-2019-5736: a container must never be able to write the runtime's own
// binary through /proc/<pid>/exe of a runtime process that entered it (or
// through "#!/proc/self/exe"). Before entering a container the runtime
// re-executes itself from a copy that cannot be written:
//  - preferably the binary seen through a detached, read-only overlayfs
//    with no upper layer (nothing to copy; such a mount cannot be made
//    writable again, unlike a read-only bind mount), as runc 1.2 does;
//  - otherwise a sealed memfd copy of the binary.

#include <string>

#include "base/result.hpp"

namespace nucleo::os {

// Returns when the process already runs from a protected copy; otherwise
// re-executes itself with the same argv and environment and returns only on
// failure. `emptyDir` is an empty directory the runtime owns (the overlay's
// second lower layer; an overlay without upper needs two).
Status ensureProtectedSelf(char** argv, const std::string& emptyDir);

// Whether /proc/self/exe is a sealed memfd or lies on a read-only overlay.
bool runningFromProtectedCopy();

}  // namespace nucleo::os
