#pragma once
// Mount mechanism: OCI mount option parsing, path resolution confined to a
// root directory fd, mounting onto fds, and a mountinfo parser. Nothing here
// joins a rootfs path with a destination string: a symlink planted in a
// container image must never redirect a mount onto the host.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {

// The OCI "options" list of one mount, split into what each syscall needs.
// flags/clearFlags are MS_* bits; attrSet/attrClear are MOUNT_ATTR_* bits for
// the recursive r* options, applied with mount_setattr(2) AT_RECURSIVE.
struct MountOptions {
  unsigned long flags = 0;       // MS_* to set (MS_BIND/MS_REC not included)
  unsigned long clearFlags = 0;  // MS_* explicitly negated ("rw", "suid", ...)
  std::vector<unsigned long> propagation;  // each one mount(2) call, in order
  bool bind = false;
  bool recursiveBind = false;    // "rbind"
  uint64_t attrSet = 0;
  uint64_t attrClear = 0;
  std::string data;              // unknown options, comma-joined, for the fs
};

// Parses an OCI mount options list. Options nucleo cannot honour ("tmpcopyup",
// "idmap", "ridmap") are an Error naming the option; "x-*" options are ignored
// as runc does; anything unknown becomes filesystem data.
Result<MountOptions> parseMountOptions(const std::vector<std::string>& options);

// Opens `path` resolved inside `rootfd` as if it were "/" (openat2
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): absolute symlinks and ".." clamp to
// the root. O_CLOEXEC is added. Errors carry the errno and name the path.
Result<UniqueFd> openInRoot(int rootfd, const std::string& path, int flags,
                            mode_t mode = 0);

// mkdir -p of `path` inside `rootfd`, each component resolved inside the root;
// when !directory the last component is created as an empty regular file.
// Returns an O_PATH fd of the (existing or created) target. Errors (ENOTDIR
// when a directory was wanted and something else exists) name the path.
Result<UniqueFd> ensureMountTarget(int rootfd, const std::string& path,
                                   bool directory);

// "/proc/self/fd/<fd>": mount(2) on this path acts on what fd refers to.
// Needs a procfs at /proc in the caller's mount namespace.
std::string fdPath(int fd);

// mount(2) onto the object `targetFd` refers to (via fdPath). Errors name
// `what` (the OCI destination, for the user).
Status mountOnFd(const std::string& source, int targetFd,
                 const std::string& fsType, unsigned long flags,
                 const std::string& data, std::string_view what);

// Sets/clears MOUNT_ATTR_* on the mount `fd` is the root of (mount_setattr(2),
// Linux 5.12); recursive applies to all submounts. Unlike a MS_REMOUNT, bits
// not named keep their value, so flags locked by a user namespace survive.
Status setMountAttr(int fd, uint64_t set, uint64_t clear, bool recursive,
                    std::string_view what);

// The MOUNT_ATTR_* changes equivalent to MS_* flags set/cleared on a bind
// remount. Superblock-only flags (sync, mand, lazytime...) have no
// per-mount meaning and are dropped.
void msFlagsToAttr(unsigned long set, unsigned long clear, uint64_t* attrSet,
                   uint64_t* attrClear);

// The mount id of the mount `fd` lives on (statx STATX_MNT_ID, Linux 5.8).
Result<uint64_t> mountIdOf(int fd);

// True when `fd` is the root directory of a mount (STATX_ATTR_MOUNT_ROOT).
Result<bool> isMountRoot(int fd);

// One line of /proc/<pid>/mountinfo; paths have their octal escapes decoded.
struct MountInfo {
  int id = 0;
  int parent = 0;
  std::string majorMinor;
  std::string root;
  std::string mountPoint;
  std::string options;
  std::vector<std::string> optionalFields;  // "shared:1", "master:2", ...
  std::string fsType;
  std::string source;
  std::string superOptions;
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<MountInfo> parseMountInfo(std::string_view text);

// The entry whose mount point is the longest prefix of the absolute, clean
// `path` (the mount `path` lives on), or nullptr when none matches.
const MountInfo* findMountFor(const std::vector<MountInfo>& mounts,
                              std::string_view path);

}  // namespace nucleo::os
