#include "images/pull.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "base/fs.hpp"
#include "images/reference.hpp"
#include "images/registry.hpp"

namespace nucleo::images {
namespace {

// An exclusive flock on <dir>/<hex>, removed on release. The file is
// unlinked while still locked, so a waiter that opened it before then finds,
// once it holds the lock, that its inode is no longer the one at the path,
// and starts over on a fresh file.
class BlobLock {
 public:
  static Result<BlobLock> take(const std::string& dir, const Digest& digest) {
    TRY(fs::makeDirs(dir, 0700));
    std::string path = dir + "/" + digest.hex;
    for (;;) {
      TRY_ASSIGN(UniqueFd fd, UniqueFd::open(path, O_RDWR | O_CREAT, 0600));
      while (::flock(fd.get(), LOCK_EX) != 0)
        if (errno != EINTR) return Error::fromErrno("lock '" + path + "'");
      struct stat held, named;
      if (::fstat(fd.get(), &held) != 0) return Error::fromErrno("stat '" + path + "'");
      if (::stat(path.c_str(), &named) == 0 && named.st_ino == held.st_ino && named.st_dev == held.st_dev)
        return BlobLock(std::move(fd), std::move(path));
    }
  }
  BlobLock(BlobLock&&) = default;
  BlobLock& operator=(BlobLock&&) = delete;
  ~BlobLock() {
    if (fd_) ::unlink(path_.c_str());
  }

 private:
  BlobLock(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

struct Puller {
  ImageStore& store;
  RegistryClient& client;
  const Progress& progress;
  std::set<Digest> addedBlobs, addedLayers;
  uint64_t downloaded = 0;

  std::string lockDir() const { return store.root() + "/locks"; }
  Result<FetchedManifest> resolve(const Reference& ref, const Platform& platform);
  Status fetchBlob(const Descriptor& d, const std::string& what);
  Status fetchLayer(const Descriptor& d, const std::string& what);
  Status fetchAll(const Manifest& m);
  Result<bool> stillComplete(const Manifest& m) const;
  void rollback();
};

Result<FetchedManifest> Puller::resolve(const Reference& ref, const Platform& platform) {
  TRY_ASSIGN(FetchedManifest m, client.manifest(ref.digest ? ref.digest->str() : ref.tag));
  for (int depth = 0; depth < 4; ++depth) {
    if (isManifestMediaType(m.mediaType)) return m;
    std::string what = "manifest " + m.digest.str();
    if (!isIndexMediaType(m.mediaType))
      return Error::make("{}: unknown media type '{}'", what, m.mediaType);
    TRY_ASSIGN(Index index, parseIndex(m.bytes, "index " + m.digest.str()));
    TRY_ASSIGN(Descriptor chosen, selectManifest(index, platform, "index " + m.digest.str()));
    if (progress)
      progress(fmt::format("index {}: platform {}/{} is {}", m.digest.shortId(), platform.os,
                           platform.architecture, chosen.digest.shortId()));
    TRY_ASSIGN(m, client.manifest(chosen.digest.str()));
  }
  return Error::make("index {}: indexes nested too deep", m.digest.str());
}

Status Puller::fetchBlob(const Descriptor& d, const std::string& what) {
  const BlobStore& blobs = store.blobs();
  auto size = blobs.size(d.digest);
  if (size && *size == d.size) return ok();
  TRY_ASSIGN(BlobWriter writer, blobs.ingest({d.digest, d.size, what}));
  if (progress) progress(fmt::format("pulling {} ({} bytes)", what, d.size));
  std::optional<Error> sinkError;
  auto s = client.blob(d.digest, [&](const char* data, size_t n) -> Status {
    auto w = writer.write(data, n);
    if (!w) sinkError = w.error();
    return w;
  });
  if (!s) return sinkError ? *sinkError : std::move(s).error().context("{}", what);
  TRY(writer.commit());
  addedBlobs.insert(d.digest);
  downloaded += writer.written();
  return ok();
}

// Under the blob's lock, so that of two pulls of one layer the second finds
// it fetched and unpacked and only waits.
Status Puller::fetchLayer(const Descriptor& d, const std::string& layer) {
  TRY_ASSIGN(BlobLock lock, BlobLock::take(lockDir(), d.digest));
  TRY(fetchBlob(d, layer + " " + d.digest.str()));
  bool unpacked = fs::exists(store.layerDir(d.digest));
  TRY(store.ensureLayer(d, layer, progress));
  if (!unpacked) addedLayers.insert(d.digest);
  return ok();
}

Status Puller::fetchAll(const Manifest& m) {
  {
    TRY_ASSIGN(BlobLock lock, BlobLock::take(lockDir(), m.config.digest));
    std::string what = "config " + m.config.digest.str();
    TRY(fetchBlob(m.config, what));
    TRY_ASSIGN(std::string text, store.blobs().read(m.config.digest));
    TRY(parseImageConfig(text, what));
  }
  for (size_t i = 0; i < m.layers.size(); ++i)
    TRY(fetchLayer(m.layers[i], fmt::format("layer {}/{}", i + 1, m.layers.size())));
  return ok();
}

// A concurrent failed pull or prune may have taken back a blob this pull
// found present; checked under the store lock before naming the image.
Result<bool> Puller::stillComplete(const Manifest& m) const {
  auto size = store.blobs().size(m.config.digest);
  if (!size || *size != m.config.size) return false;
  for (const auto& l : m.layers) {
    size = store.blobs().size(l.digest);
    if (!size || *size != l.size || !fs::exists(store.layerDir(l.digest))) return false;
  }
  return true;
}

// Takes back what this pull added, except what a named image now uses (a
// concurrent pull may have found our blobs and finished with them).
void Puller::rollback() {
  if (addedBlobs.empty() && addedLayers.empty()) return;
  auto lock = store.lock();
  if (!lock) return;
  std::set<Digest> live;
  if (auto records = store.list())
    for (const auto& r : *records)
      if (auto image = store.load(r))
        for (const auto& d : imageBlobs(r.manifest, image->manifest)) live.insert(d);
  std::set<Digest> all = addedBlobs;
  all.insert(addedLayers.begin(), addedLayers.end());
  for (const auto& d : all) {
    if (live.count(d)) continue;
    auto blobLock = BlobLock::take(lockDir(), d);
    if (addedLayers.count(d)) (void)fs::removeAll(store.layerDir(d));
    if (addedBlobs.count(d)) (void)store.blobs().remove(d);
  }
}

Result<PullResult> pullWith(Puller& p, const Reference& ref, const PullOptions& options) {
  TRY_ASSIGN(FetchedManifest fetched, p.resolve(ref, options.platform));
  std::string what = "manifest " + fetched.digest.str();
  TRY_ASSIGN(Manifest manifest, parseManifest(fetched.bytes, what));
  // An unknown layer type is refused before a byte of it is fetched.
  for (size_t i = 0; i < manifest.layers.size(); ++i)
    TRY(layerCompression(manifest.layers[i].mediaType)
            .context("layer {}/{} {}", i + 1, manifest.layers.size(), manifest.layers[i].digest.str()));
  PullResult result{fetched.digest, ref.str(), 0};
  for (int attempt = 0; attempt < 3; ++attempt) {
    TRY(p.fetchAll(manifest));
    TRY_ASSIGN(UniqueFd lock, p.store.lock());
    TRY_ASSIGN(bool complete, p.stillComplete(manifest));
    if (!complete) continue;
    bool existed = p.store.blobs().has(fetched.digest);
    TRY(p.store.blobs().ingestBytes(fetched.bytes, {fetched.digest, fetched.bytes.size(), what}));
    if (!existed) p.addedBlobs.insert(fetched.digest);
    TRY(p.store.addImage(fetched.digest, {result.name}));
    result.downloaded = p.downloaded;
    return result;
  }
  return Error::make("{}: its blobs kept disappearing (a concurrent prune?)", what);
}

}  // namespace

Result<PullResult> pullImage(ImageStore& store, std::string_view text, const PullOptions& options,
                             const Progress& progress) {
  TRY_ASSIGN(Reference ref, parseReference(text));
  RegistryLocation where = locate(ref);
  RegistryOptions registryOptions{options.insecure, {}};
  if (!options.credsFile.empty()) {
    TRY_ASSIGN(auto auths, loadAuthConfig(options.credsFile).context("pull '{}'", text));
    registryOptions.credentials = findCredentials(auths, where.host);
  }
  std::unique_ptr<HttpClient> owned;
  HttpClient* http = options.http;
  if (!http) {
    owned = makeHttpClient({options.caFile, !options.insecure, 60});
    http = owned.get();
  }
  RegistryClient client(*http, where, registryOptions);
  Puller puller{store, client, progress, {}, {}, 0};
  auto result = pullWith(puller, ref, options);
  if (!result) {
    puller.rollback();
    return std::move(result).error().context("pull '{}'", text);
  }
  return result;
}

}  // namespace nucleo::images
