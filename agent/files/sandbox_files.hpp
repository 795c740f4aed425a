#pragma once
// The agent's /files/browse and /files/read (Mesos's files API) over
// sandboxes: paths confined to a registered root (no "..", no symlink out of
// it: resolved with openat2(RESOLVE_IN_ROOT)).

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::agent {

struct FileEntry {
  std::string path;  // virtual path, as the client names it
  std::string mode;  // "-rw-r--r--" like Mesos
  uint64_t size = 0;
  uint64_t nlink = 0;
  double mtime = 0;
  std::string uid, gid;
};

class SandboxFiles {
 public:
  // Maps a virtual path prefix (e.g. "/frameworks/F/executors/E/runs/latest"
  // or the sandbox path itself, as Mesos does) to a host directory.
  void attach(const std::string& virtualPath, const std::string& hostDir);
  void detach(const std::string& virtualPath);
  // Lists a directory. Errors: unknown path (NotFound), not a directory.
  Result<std::vector<FileEntry>> browse(const std::string& path) const;
  struct Chunk {
    uint64_t offset = 0;
    std::string data;
  };
  // Reads up to `length` bytes at `offset`; offset -1 returns the file's size
  // in Chunk.offset with no data (Mesos's way to tail a file).
  Result<Chunk> read(const std::string& path, int64_t offset, int64_t length) const;
  // browse/read results as the JSON Mesos's /files endpoints answer.
  static std::string browseJson(const std::vector<FileEntry>& entries);
  static std::string readJson(const Chunk& chunk);
 private:
  std::map<std::string, std::string> roots_;
};

}  // namespace nucleo::agent
