#pragma once
// Reading a task's sandbox through an agent's files API (/files/read, as
// Mesos's agent serves it), for tools that show or follow a task's output.

#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace nucleo::sdk {

// The virtual path of an executor's latest run on its agent:
// /frameworks/<framework>/executors/<executor>/runs/latest. A command task's
// executor id is its task id.
std::string sandboxPath(const std::string& frameworkId, const std::string& executorId);

struct FileChunk {
  std::string data;
  uint64_t nextOffset = 0;
};

// Reads up to `length` bytes of `path` (a virtual path under a sandbox) from
// the agent at `agent` (host:port), starting at `offset`.
Result<FileChunk> readAgentFile(const std::string& agent, const std::string& path,
                                uint64_t offset, uint64_t length = 1 << 20);

}  // namespace nucleo::sdk
