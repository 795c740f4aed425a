#pragma once
// Mesos's fetcher: brings a task's CommandInfo.uris into its sandbox before
// the task starts. http(s):// (Boost.Beast, OpenSSL), file:// and plain
// absolute paths; archives (.tar, .tar.gz/.tgz, .tar.bz2/.tbz2,
// .tar.xz/.txz, .tar.zst/.tzst, .zip) are extracted with libarchive when
// `extract` is set (default), and a plain .gz is gunzipped beside;
// `executable` sets the mode 0755 (else 0644) and skips extraction;
// `output_file` names the result (a path inside the sandbox: no "..", not
// absolute, no symlinked directory on the way); `cache` keeps a copy in the
// per-agent cache, keyed by the URI (and the user, when given). The archive
// itself is kept beside what it held, as Mesos does. HTTP(S) goes through
// the image store's Beast client (images/http_client.hpp): no Beast here.
// "user:password@" in an http(s) URI is sent as Basic auth to that host only
// and never appears in errors or logs.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
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
  // Largest file one URI may bring (0: no limit); a bigger one is an error
  // naming the size, and nothing is kept.
  uint64_t maxBytes = 0;
};

// Whose permissions local paths are opened with (Mesos runs its fetcher as
// the task's user): a framework must not copy what its user cannot read.
struct FetchUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

// The URI with the password of "scheme://user:password@host" replaced by
// "***": for errors, logs and status messages.
std::string redactUri(const std::string& uri);

class Fetcher {
 public:
  explicit Fetcher(FetcherOptions options);
  // Fetches every URI into `sandbox` (an existing directory), in order. The
  // first failure stops it: the error names the URI and the cause, and
  // files of that URI are not left half-written (downloads go to a hidden
  // temporary name renamed into place; archives are unpacked aside first).
  // Blocking: the agent runs it off its strands. Safe to call from several
  // threads and processes at once, also for the same cached URI.
  // This form reads local paths with the agent's own rights (a task with no
  // user, as Mesos).
  Status fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
               const std::string& sandbox);
  // As above, but local paths are opened by a child process running as
  // `user` (EACCES if that user may not read them), and cache entries are
  // kept per user, as Mesos keys its cache by (user, URI). Needs root (or
  // CAP_SETUID/CAP_SETGID) to switch to another user.
  Status fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
               const std::string& sandbox, const std::optional<FetchUser>& user);
 private:
  Status fetchOne(const mesos::v1::CommandInfo::URI& uri, int sandboxFd,
                  const std::optional<FetchUser>& user) const;
  Status download(const std::string& location, bool http, int fd,
                  std::chrono::steady_clock::time_point deadline,
                  const std::optional<FetchUser>& user) const;

  FetcherOptions options_;
};

}  // namespace nucleo::agent
