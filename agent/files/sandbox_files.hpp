#pragma once
// The agent's /files/browse and /files/read (Mesos's files API) over
// sandboxes: paths confined to a registered root (no "..", no symlink out of
// it: resolved with openat2(RESOLVE_IN_ROOT)).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::agent {

struct FileEntry {
  std::string path;  // virtual path, as the client names it
  std::string mode;  // "-rw-r--r--" like Mesos
  uint64_t size = 0;
  uint64_t nlink = 0;
  double mtime = 0;
  std::string uid, gid;
  uint32_t modeBits = 0;  // st_mode, for the operator API's FileInfo.mode
};

// Errors carry an errno-style code for the HTTP layer: ENOENT (no such
// attached path or file: 404), EINVAL (bad offset/length, "..", not a regular
// file: 400), EACCES (a link leads out of the sandbox or is a /proc magic
// link: 403), ENOTDIR/EISDIR (browse of a file, read of a directory: 400).
// Thread-safe for concurrent const calls; attach/detach need exclusion.
class SandboxFiles {
 public:
  // The most one read returns (Mesos caps at 16 pages; clients page on).
  static constexpr uint64_t MAX_READ_BYTES = 1 << 20;

  // Maps a virtual path prefix (normalized: no trailing '/') (e.g. "/frameworks/F/executors/E/runs/latest"
  // or the sandbox path itself, as Mesos does) to a host directory.
  void attach(const std::string& virtualPath, const std::string& hostDir);
  void detach(const std::string& virtualPath);
  // Lists a directory. Errors: unknown path (NotFound), not a directory.
  Result<std::vector<FileEntry>> browse(const std::string& path) const;
  struct Chunk {
    uint64_t offset = 0;
    std::string data;
    uint64_t size = 0;  // the file's size when read
  };
  // Reads up to `length` bytes (-1: as much as allowed, capped at
  // MAX_READ_BYTES) at `offset`; offset -1 returns the file's size in
  // Chunk.offset with no data (Mesos's way to tail a file); an offset past
  // the end returns no data and the size as offset. Regular files only.
  Result<Chunk> read(const std::string& path, int64_t offset, int64_t length) const;
  // Opens a regular file for /files/download (the HTTP layer streams it),
  // confined and checked as read() does.
  struct OpenFile {
    UniqueFd fd;
    uint64_t size = 0;
  };
  Result<OpenFile> open(const std::string& path) const;
  // browse/read results as the JSON Mesos's /files endpoints answer.
  static std::string browseJson(const std::vector<FileEntry>& entries);
  static std::string readJson(const Chunk& chunk);
  // A client path split at the attached root that holds it.
  struct Target {
    std::string virtualPath;  // normalized: "/a/b"
    std::string hostRoot;
    std::string inner;  // inside hostRoot, "" for the root itself
  };
  // Maps a client path to its attached root (longest prefix); ".." is
  // EINVAL, no attached prefix ENOENT.
  Result<Target> resolve(const std::string& path) const;

 private:
  std::map<std::string, std::string> roots_;
};

}  // namespace nucleo::agent
