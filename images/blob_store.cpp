#include "images/blob_store.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.hpp"

namespace nucleo::images {

static std::string describe(const BlobExpectation& e) {
  return e.what.empty() ? std::string("blob") : e.what;
}

Status BlobWriter::write(const void* data, size_t size) {
  if (expect_.size && written_ + size > *expect_.size)
    return Error::make("{}: more than the expected {} bytes", describe(expect_), *expect_.size);
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(tmp_.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("write").context("{}", describe(expect_));
    p += n;
    left -= static_cast<size_t>(n);
  }
  hash_.update(data, size);
  written_ += size;
  return ok();
}

Result<Digest> BlobWriter::commit() {
  if (!tmp_) return Error::make("{}: already committed", describe(expect_));
  Digest got = hash_.finish();
  if (expect_.size && written_ != *expect_.size)
    return Error::make("{}: size mismatch: expected {} bytes, got {}", describe(expect_),
                       *expect_.size, written_);
  if (expect_.digest && got != *expect_.digest)
    return Error::make("{}: digest mismatch: expected {}, got {}", describe(expect_),
                       expect_.digest->str(), got.str());
  if (::fchmod(tmp_.get(), 0444) != 0 || ::fsync(tmp_.get()) != 0)
    return Error::fromErrno("fsync").context("{}", describe(expect_));
  std::string proc = "/proc/self/fd/" + std::to_string(tmp_.get());
  if (::linkat(AT_FDCWD, proc.c_str(), dir_.get(), got.hex.c_str(), AT_SYMLINK_FOLLOW) != 0 &&
      errno != EEXIST)
    return Error::fromErrno("link blob " + got.str()).context("{}", describe(expect_));
  if (::fsync(dir_.get()) != 0) return Error::fromErrno("fsync blob directory");
  tmp_.reset();
  return got;
}

Result<BlobStore> BlobStore::open(const std::string& dir) {
  TRY(fs::makeDirs(dir + "/sha256", 0700));
  return BlobStore(dir + "/sha256");
}

std::string BlobStore::path(const Digest& digest) const { return dir_ + "/" + digest.hex; }

bool BlobStore::has(const Digest& digest) const { return fs::exists(path(digest)); }

Result<uint64_t> BlobStore::size(const Digest& digest) const {
  struct stat st;
  if (::stat(path(digest).c_str(), &st) != 0)
    return Error::fromErrno("blob " + digest.str());
  return static_cast<uint64_t>(st.st_size);
}

Result<UniqueFd> BlobStore::openBlob(const Digest& digest) const {
  auto fd = UniqueFd::open(path(digest), O_RDONLY);
  if (!fd) return std::move(fd).error().context("blob {}", digest.str());
  return fd;
}

Result<std::string> BlobStore::read(const Digest& digest, uint64_t maxSize) const {
  TRY_ASSIGN(uint64_t size, this->size(digest));
  if (size > maxSize)
    return Error::make("blob {}: {} bytes is more than the {} allowed", digest.str(), size, maxSize);
  return fs::readFile(path(digest));
}

Result<BlobWriter> BlobStore::ingest(BlobExpectation expect) const {
  TRY_ASSIGN(UniqueFd dir, UniqueFd::open(dir_, O_RDONLY | O_DIRECTORY));
  TRY_ASSIGN(UniqueFd tmp, UniqueFd::open(dir_, O_TMPFILE | O_WRONLY, 0600));
  return BlobWriter(std::move(dir), std::move(tmp), std::move(expect));
}

Result<Digest> BlobStore::ingestFd(int fd, BlobExpectation expect) const {
  std::string what = describe(expect);
  TRY_ASSIGN(BlobWriter writer, ingest(std::move(expect)));
  std::string buffer(1 << 17, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("read").context("{}", what);
    if (n == 0) break;
    TRY(writer.write(buffer.data(), static_cast<size_t>(n)));
  }
  return writer.commit();
}

Result<Digest> BlobStore::ingestBytes(std::string_view bytes, BlobExpectation expect) const {
  TRY_ASSIGN(BlobWriter writer, ingest(std::move(expect)));
  TRY(writer.write(bytes.data(), bytes.size()));
  return writer.commit();
}

Status BlobStore::remove(const Digest& digest) const {
  if (::unlink(path(digest).c_str()) != 0 && errno != ENOENT)
    return Error::fromErrno("remove blob " + digest.str());
  return ok();
}

Result<std::vector<Digest>> BlobStore::list() const {
  std::vector<Digest> out;
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) return Error::fromErrno("open '" + dir_ + "'");
  while (auto* entry = ::readdir(dir))
    if (isSha256Hex(entry->d_name)) out.push_back(Digest{entry->d_name});
  ::closedir(dir);
  return out;
}

}  // namespace nucleo::images
