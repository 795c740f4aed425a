#pragma once
// The fetcher's per-agent download cache: one file per URI, named by the
// SHA-256 of the URI, evicted least recently used first. Safe between
// threads and processes sharing the directory: a lock file per entry
// serializes the download of one URI, so concurrent fetches of it download
// once.

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::agent::fetcher {

class FetchCache {
 public:
  FetchCache(std::string dir, uint64_t maxBytes) : dir_(std::move(dir)), maxBytes_(maxBytes) {}

  // Writes the content into the fd it is given (empty, at offset 0).
  using Producer = std::function<Status(int fd)>;

  // Returns a read-only fd on the cached copy of `key`, running `produce`
  // into a temporary file renamed into place when there is none (a failed
  // produce leaves nothing). A hit refreshes the entry's age. Entries are
  // evicted, oldest first, until the cache fits in maxBytes; an entry bigger
  // than that is served once and not kept. Errors name the cache path.
  Result<UniqueFd> get(const std::string& key, const Producer& produce);

  // The entry file's name for `key` (its SHA-256 in hex).
  static std::string entryName(const std::string& key);

 private:
  Status evict(const std::string& keep);

  std::string dir_;
  uint64_t maxBytes_;
};

}  // namespace nucleo::agent::fetcher
