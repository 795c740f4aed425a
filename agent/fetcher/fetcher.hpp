#pragma once
// Mesos's fetcher: brings a task's CommandInfo.uris into its sandbox before
// the task starts. http(s):// (Boost.Beast, OpenSSL), file:// and plain
// absolute paths; archives (.tar, .tar.gz/.tgz, .tar.zst, .tar.xz, .zip) are
// extracted with libarchive when `extract` is set; `executable` sets the mode
// 0755; `output_file` names the result (confined to the sandbox); `cache`
// keeps a copy in the per-agent cache, keyed by URI (and the task's user).

#include <chrono>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

struct FetcherOptions {
  std::string cacheDir;                 // <agent work dir>/fetcher-cache
  uint64_t cacheMaxBytes = 2ull << 30;  // least recently used entries evicted past this
  std::chrono::seconds timeout{300};    // per URI
};

class Fetcher {
 public:
  explicit Fetcher(FetcherOptions options);
  // Fetches every URI into `sandbox` (an existing directory), in order. The
  // first failure stops it: the error names the URI and the cause, and
  // files of that URI are not left half-written.
  Status fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
               const std::string& sandbox);
 private:
  FetcherOptions options_;
};

}  // namespace nucleo::agent
