#pragma once
// Building a container's root filesystem from an OCI config, in three steps
// the container init calls in order, single-threaded, in its own mount
// namespace: prepareRootfs (mounts and devices, resolved inside the rootfs),
// enterRootfs (pivot_root or chroot), finishRootfs (masked and read-only
// paths, read-only root, root propagation). The order follows runc's
// libcontainer/rootfs_linux.go.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {

// One OCI "mounts" entry. destination is resolved inside the rootfs (a
// relative one as if it were absolute); source is a host path for binds.
struct MountEntry {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// One OCI linux.devices entry. type is 'c', 'b', 'u' (same as 'c') or 'p'
// (FIFO; major/minor ignored). fileMode holds permission bits only; unset
// means 0666, unset uid/gid mean 0.
struct DeviceEntry {
  std::string path;
  char type = 'c';
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> fileMode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct RootfsPlan {
  std::string rootfs;             // absolute host path of the bundle's rootfs
  bool readonly = false;          // root.readonly
  std::string rootfsPropagation;  // "", "shared", "rslave", ... (OCI names)
  std::vector<MountEntry> mounts;    // in config order
  std::vector<DeviceEntry> devices;  // linux.devices
  // In a user namespace mknod is refused: devices are bind-mounted from the
  // host instead (runc does the same).
  bool userNamespace = false;
  bool noPivot = false;  // --no-pivot: MS_MOVE + chroot instead of pivot_root
  std::vector<std::string> maskedPaths;
  std::vector<std::string> readonlyPaths;
  std::string mountLabel;
  // The container's cgroup ("/nucleo/<id>"): without a cgroup namespace a
  // "cgroup" mount shows only this subtree of each hierarchy, as runc does.
  std::string cgroupPath;
  bool cgroupNamespace = false;  // accepted and ignored: no SELinux on our hosts
};

// Step 1, before the pivot. Makes "/" rslave (or the rootfsPropagation mode),
// binds the rootfs onto itself, mounts every entry onto an fd resolved inside
// the rootfs, creates the default and configured devices and the /dev
// symlinks. Returns an O_PATH fd of the mounted rootfs for enterRootfs.
// Errors name the mount destination or device path that failed.
Result<UniqueFd> prepareRootfs(const RootfsPlan& plan);

// Step 2: makes rootfd the process's "/" (pivot_root(".", ".") and a lazy
// detach of the old root, as bubblewrap does; with plan.noPivot, MS_MOVE onto
// "/" and chroot as runc --no-pivot). The cwd ends at the new "/".
Status enterRootfs(const RootfsPlan& plan, int rootfd);

// Step 3, after the pivot: readonlyPaths (bind onto themselves, then
// ro,nosuid,nodev,noexec), maskedPaths (/dev/null over files, an empty
// read-only tmpfs over directories); missing paths are skipped. Then remounts
// "/" read-only when plan.readonly and applies rootfsPropagation to "/".
Status finishRootfs(const RootfsPlan& plan);

// Creates one device node inside rootfd (mknod, or a bind mount of the host
// node when userNamespace or when mknod is refused). An existing node is kept.
Status createDevice(int rootfd, const DeviceEntry& device, bool userNamespace);

// Creates /dev/fd, /dev/std{in,out,err}, /dev/core (when the host has
// /proc/kcore) as symlinks into /proc, and replaces /dev/ptmx with a symlink
// to pts/ptmx. Existing links are kept; errors name the link.
Status createDevSymlinks(int rootfd);

// The devices every container gets (runc's default list): null, zero, full,
// random, urandom, tty, all 0666 root-owned character devices.
std::vector<DeviceEntry> defaultDevices();

// Maps an OCI rootfsPropagation name to mount(2) flags ("" gives
// MS_SLAVE|MS_REC, runc's default). Unknown names are an Error naming them.
Result<unsigned long> rootPropagationFlags(const std::string& name);

}  // namespace nucleo::os
