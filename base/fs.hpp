#pragma once
// Small file helpers shared by every component. Paths in errors are quoted.

#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::fs {

// Reads a whole file (also /proc and cgroupfs files, whose size is 0).
Result<std::string> readFile(const std::string& path);
Result<std::string> readFileAt(int dirfd, const std::string& path);

// Writes content with O_WRONLY|O_TRUNC (no create): the kernel-file idiom.
Status writeExisting(const std::string& path, std::string_view content);
Status writeExistingAt(int dirfd, const std::string& path, std::string_view content);

enum class Durability { Synced, Volatile };

// Writes to "<path>.tmp-<pid>", fsyncs, renames over path: readers see the old
// or the new content, never a torn one. Volatile skips the fsync, for state
// that does not outlive a reboot (runtime state under /run, per-container
// files): an fsync on ext4 costs about a millisecond per container start.
Status writeFileAtomic(const std::string& path, std::string_view content,
                       mode_t mode = 0644, Durability durability = Durability::Synced);

// mkdir -p; existing directories are fine.
Status makeDirs(const std::string& path, mode_t mode = 0755);

// rm -rf that does not follow symlinks; a missing path is fine.
Status removeAll(const std::string& path);

bool exists(const std::string& path);

}  // namespace nucleo::fs
