#pragma once
// Mesos's fetcher: brings a task's CommandInfo.uris into its sandbox before
// the task starts. http(s):// (Boost.Beast, OpenSSL), file:// and plain
// absolute paths; archives (.tar, .tar.gz/.tgz, .tar.zst, .tar.xz, .zip) are
// extracted with libarchive when `extract` is set; `executable` sets the mode
// 0755 (else 0644); `output_file` names the result (a path inside the
// sandbox: no "..", not absolute, no symlinked directory on the way);
// `cache` keeps a copy in the per-agent cache, keyed by the URI. The archive
// itself is kept beside what it held, as Mesos does. HTTP(S) goes through
// the image store's Beast client (images/http_client.hpp): no Beast here.

#include <chrono>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

struct FetcherOptions {
  std::string cacheDir;                 // <agent work dir>/fetcher-cache
  uint64_t cacheMaxBytes = 2ull << 30;  // least recently used entries evicted past this
  std::chrono::seconds timeout{300};    // per URI, download and copy
  // PEM bundle for https; empty: $SSL_CERT_FILE, else the system's store.
  // Certificates and host names are always verified.
  std::string caFile;
};

class Fetcher {
 public:
  explicit Fetcher(FetcherOptions options);
  // Fetches every URI into `sandbox` (an existing directory), in order. The
  // first failure stops it: the error names the URI and the cause, and
  // files of that URI are not left half-written (downloads go to a hidden
  // temporary name renamed into place; archives are unpacked aside first).
  // Blocking: the agent runs it off its strands. Safe to call from several
  // threads and processes at once, also for the same cached URI.
  Status fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
               const std::string& sandbox);
 private:
  Status fetchOne(const mesos::v1::CommandInfo::URI& uri, int sandboxFd) const;
  Status download(const std::string& location, bool http, int fd,
                  std::chrono::steady_clock::time_point deadline) const;

  FetcherOptions options_;
};

}  // namespace nucleo::agent
