#pragma once
// Content-addressed blob storage: <dir>/sha256/<hex>. A blob appears under its
// name only after its bytes were hashed, counted, fsynced and linked in one
// step, so a crash at any point leaves either no blob or a complete one.
// BlobWriter is the ingest interface every source (a layout directory, an
// archive, a registry's HTTP body) streams into.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "images/digest.hpp"

namespace nucleo::images {

// What a source claims a blob is. The claim is checked, never trusted.
struct BlobExpectation {
  std::optional<Digest> digest;
  std::optional<uint64_t> size;
  std::string what;  // names the blob in errors ("layer 2 of busybox:latest")
};

// Receives a blob's bytes in order. commit() publishes the blob only when the
// bytes match the expectation; destroying an uncommitted writer leaves no
// trace (the data lives in an O_TMPFILE until then).
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) = default;
  BlobWriter& operator=(BlobWriter&&) = default;

  // Appends bytes. Exceeding the expected size is an Error right away, so a
  // hostile source cannot fill the disk.
  Status write(const void* data, size_t size);
  // Verifies size and digest, fsyncs and links the blob in; returns its
  // digest. A mismatch is an Error naming `what`, both digests and sizes.
  Result<Digest> commit();
  uint64_t written() const { return written_; }

 private:
  friend class BlobStore;
  BlobWriter(UniqueFd dir, UniqueFd tmp, BlobExpectation expect)
      : dir_(std::move(dir)), tmp_(std::move(tmp)), expect_(std::move(expect)) {}

  UniqueFd dir_, tmp_;
  BlobExpectation expect_;
  Sha256 hash_;
  uint64_t written_ = 0;
};

class BlobStore {
 public:
  // Opens (creating when missing) the blob directory `dir`.
  static Result<BlobStore> open(const std::string& dir);

  std::string path(const Digest& digest) const;
  bool has(const Digest& digest) const;
  // The blob's size; an Error naming the digest when it is missing.
  Result<uint64_t> size(const Digest& digest) const;
  // Reads a small blob (manifest, config) whole; bigger than maxSize is an Error.
  Result<std::string> read(const Digest& digest, uint64_t maxSize = 4 << 20) const;
  Result<UniqueFd> openBlob(const Digest& digest) const;
  // Starts receiving a blob; see BlobWriter.
  Result<BlobWriter> ingest(BlobExpectation expect) const;
  // Streams fd to EOF into a new blob (ingest + write + commit).
  Result<Digest> ingestFd(int fd, BlobExpectation expect) const;
  Result<Digest> ingestBytes(std::string_view bytes, BlobExpectation expect) const;
  // Removes a blob; a missing one is fine.
  Status remove(const Digest& digest) const;
  // Every stored blob (names that are not digests are ignored).
  Result<std::vector<Digest>> list() const;

 private:
  explicit BlobStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;  // .../blobs/sha256
};

}  // namespace nucleo::images
