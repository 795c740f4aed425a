#pragma once
// Unpacks one image layer (a tar stream, plain, gzip or zstd) into a
// directory, turning OCI whiteouts into overlayfs ones. Every entry is created
// relative to a directory fd, with no symlink followed on the way: an entry
// that would land outside the directory is refused and the unpack fails.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace nucleo::images {

struct UnpackOptions {
  // Keep the archive's uid/gid. Off, ownership is the caller's (for tests
  // and unprivileged use); on, a failed chown is an Error.
  bool preserveOwners = true;
  // Whiteouts: true writes overlayfs's trusted.overlay.opaque and 0/0 char
  // devices, which needs CAP_SYS_ADMIN and CAP_MKNOD.
  bool overlayWhiteouts = true;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // regular file content written
  uint64_t whiteouts = 0;
};

// Splits an archive member name into components. "./" and empty parts are
// dropped; absolute names and ".." are an Error naming the entry.
Result<std::vector<std::string>> splitEntryName(std::string_view name);

// Reads the archive from `fd` to its end and unpacks it into the directory
// `dirfd`, which should be empty. Modes, owners, xattrs, times, hard links,
// symlinks and device nodes are kept; "trusted.overlay.*" xattrs in the
// archive are refused. Errors read "<what>: entry '<name>': <reason>"; on
// error the directory holds a partial unpack the caller must discard.
Result<UnpackStats> unpackLayer(int fd, int dirfd, const UnpackOptions& options,
                                std::string_view what);

}  // namespace nucleo::images
