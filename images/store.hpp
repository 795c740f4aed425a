#pragma once
// The image store under one root directory:
//   blobs/sha256/<hex>   content-addressed blobs (manifests, configs, layers)
//   layers/<hex>/        each layer blob unpacked once, shared read-only
//   images.json          the index: manifest digest -> names ("busybox:latest")
//   containers/<id>/     per-container overlay upper/ and work/
//   lock                 flock(2) serializing every change
// Every change is published by a rename or link after an fsync, so a crash at
// any point leaves the store as it was before or after that change.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "images/blob_store.hpp"
#include "images/layer_unpack.hpp"
#include "images/manifest.hpp"

namespace nucleo::images {

struct ImageRecord {
  Digest manifest;
  std::vector<std::string> names;  // "name:tag" or "name@sha256:.."
};

// A resolved image: what a container is built from.
struct Image {
  ImageRecord record;
  Manifest manifest;
  ImageConfig config;
};

struct PruneReport {
  std::vector<Digest> images, blobs, layers;
  uint64_t bytes = 0;
};

// Called with one human-readable line per step (unpacking a layer...).
using Progress = std::function<void(const std::string&)>;

class ImageStore {
 public:
  // Opens (creating when missing) the store at `root`.
  static Result<ImageStore> open(const std::string& root, UnpackOptions unpack = {});

  const std::string& root() const { return root_; }
  const BlobStore& blobs() const { return blobs_; }

  // Takes the store's exclusive lock; held until the fd is closed.
  Result<UniqueFd> lock() const;

  // Every image, in digest order.
  Result<std::vector<ImageRecord>> list() const;
  // Resolves a name ("busybox" means "busybox:latest"), "name@sha256:..", a
  // full "sha256:<hex>" manifest or config digest, or a unique hex prefix of
  // at least 4 digits. Error: "image 'x' not found" or ambiguous.
  Result<ImageRecord> resolve(std::string_view ref) const;
  // Reads and parses the manifest and config of an image.
  Result<Image> load(const ImageRecord& record) const;

  // Records an image (whose blobs are all stored) under `names`, taking each
  // name away from any other image. Caller holds the lock.
  Status addImage(const Digest& manifest, const std::vector<std::string>& names);
  // `rm`: a name is removed from its image, and the image with it when that
  // was its last name; a digest or id removes the image. Then unused blobs
  // and layers go. Error when a container still uses the image.
  Status remove(std::string_view ref);
  // Removes images with no name that no container uses, then every blob and
  // layer no image or container uses, and leftovers of interrupted work.
  Result<PruneReport> prune();

  std::string layerDir(const Digest& layer) const;
  // Unpacks a stored layer blob into layers/<hex> unless already there; the
  // unpack goes to a temporary directory, is synced, then renamed in place.
  Status ensureLayer(const Descriptor& layer, std::string_view what,
                     const Progress& progress = {});

  // Per-container overlay: makes containers/<id>/{upper,work}, mounts the
  // image's layers with them on `target` and records both. Error when the id
  // is in use. Caller need not hold the lock.
  Status mountRootfs(const Image& image, const std::string& id, const std::string& target);
  // Unmounts what mountRootfs mounted and removes containers/<id>.
  Status unmountRootfs(const std::string& id);

 private:
  ImageStore(std::string root, BlobStore blobs, UnpackOptions unpack)
      : root_(std::move(root)), blobs_(std::move(blobs)), unpack_(unpack) {}
  Result<std::map<Digest, std::vector<std::string>>> readIndex() const;
  Status writeIndex(const std::map<Digest, std::vector<std::string>>& index) const;
  Result<std::map<std::string, Digest>> containerImages() const;
  Result<PruneReport> collect(bool danglingImages);

  std::string root_;
  BlobStore blobs_;
  UnpackOptions unpack_;
};

// The blobs an image needs: its manifest, config and layers.
std::vector<Digest> imageBlobs(const Digest& manifestDigest, const Manifest& manifest);

}  // namespace nucleo::images
