#pragma once
// Archive extraction for the fetcher (libarchive, in-process decoders only),
// and the directory-fd helpers it shares with the fetcher. Everything is
// relative to directory fds with no symlink followed, so an archive (or an
// earlier URI's archive) cannot make the agent write outside the sandbox.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::agent::fetcher {

// True for the names Mesos's fetcher extracts: .tar, .tar.gz/.tgz,
// .tar.bz2/.tbz2, .tar.xz/.txz, .tar.zst/.tzst and .zip.
bool isArchive(std::string_view name);

// "x.gz" that is not a tarball: Mesos gunzips it to "x".
bool isPlainGzip(std::string_view name);

struct ExtractStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// Extracts the archive read from `archiveFd` into the directory `dirfd`,
// merging with what is there (files replaced, directories merged, as tar
// does). It first unpacks into a hidden temporary directory beside, so that a
// refused or corrupt archive ("..", an absolute name, a path through a
// symlink, a truncated stream) leaves nothing behind. Owners are not kept
// (the agent chowns the sandbox); device nodes are skipped; modes are kept
// without set-id bits. Errors name the entry.
Result<ExtractStats> extractArchive(int archiveFd, int dirfd);

// Decompresses the gzip stream read from `gzFd` into `name` under `dirfd`
// (a temporary name renamed into place; nothing left on error).
Status gunzipTo(int gzFd, int dirfd, const std::string& name);

// Opens (creating when `create`) the directory `parts` under `dirfd`, one
// component at a time with O_NOFOLLOW: a symlinked component is an error.
Result<UniqueFd> openDirs(int dirfd, const std::vector<std::string>& parts, bool create);

// rm -rf of `name` under `dirfd` without following symlinks; missing is fine.
Status removeTreeAt(int dirfd, const std::string& name);

}  // namespace nucleo::agent::fetcher
