#pragma once
// The operator API's LIST_FILES and READ_FILE (POST /api/v1 on the agent)
// over the same virtual paths as /files/browse and /files/read.

#include <string>
#include <vector>

#include "agent/files/sandbox_files.hpp"
#include "base/result.hpp"
#include "mesos/v1/agent/agent.pb.h"

namespace nucleo::agent {

// Attaches each sandbox (a host path) under its own path, and the newest run
// of each executor also as ".../runs/latest" and as Mesos's virtual
// "/frameworks/F/executors/E/runs/latest" (the link on disk decides which
// run is the newest).
void attachSandboxes(SandboxFiles& files, const std::vector<std::string>& sandboxes);

// The HTTP status for a SandboxFiles error: ENOENT 404, EACCES 403, else 400.
int httpStatusOf(const Error& error);

// Response LIST_FILES {file_infos} for call.list_files.path. Errors as
// SandboxFiles::browse, plus EINVAL when list_files or its path is missing.
Result<mesos::v1::agent::Response> listFiles(const SandboxFiles& files,
                                             const mesos::v1::agent::Call& call);

// Response READ_FILE {size, data} for call.read_file {path, offset, length}:
// at most SandboxFiles::MAX_READ_BYTES; an offset past the end gives no data.
// Errors as SandboxFiles::read, plus EINVAL for a missing path or offset.
Result<mesos::v1::agent::Response> readFile(const SandboxFiles& files,
                                            const mesos::v1::agent::Call& call);

}  // namespace nucleo::agent
