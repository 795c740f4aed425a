#include "images/store.hpp"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "images/overlay.hpp"
#include "images/reference.hpp"
#include "oci/json_pretty.hpp"
#include "oci/json_reader.hpp"

namespace nucleo::images {

static Result<std::vector<std::string>> listDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return Error::fromErrno("open '" + path + "'");
  while (auto* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(dir);
  return out;
}

std::vector<Digest> imageBlobs(const Digest& manifestDigest, const Manifest& manifest) {
  std::vector<Digest> out{manifestDigest, manifest.config.digest};
  for (const auto& l : manifest.layers) out.push_back(l.digest);
  return out;
}

Result<ImageStore> ImageStore::open(const std::string& root, UnpackOptions unpack) {
  TRY(fs::makeDirs(root, 0700));
  TRY(fs::makeDirs(root + "/layers", 0700));
  TRY(fs::makeDirs(root + "/containers", 0700));
  TRY_ASSIGN(BlobStore blobs, BlobStore::open(root + "/blobs"));
  return ImageStore(root, std::move(blobs), unpack);
}

Result<UniqueFd> ImageStore::lock() const {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::open(root_ + "/lock", O_RDWR | O_CREAT, 0600));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Error::fromErrno("lock '" + root_ + "/lock'");
  return fd;
}

Result<std::map<Digest, std::vector<std::string>>> ImageStore::readIndex() const {
  std::map<Digest, std::vector<std::string>> index;
  std::string path = root_ + "/images.json";
  if (!fs::exists(path)) return index;
  TRY_ASSIGN(std::string text, fs::readFile(path));
  TRY_ASSIGN(auto doc, oci::parseJson(text, path));
  oci::JsonField root(&doc, "");
  TRY_ASSIGN(auto images, root.member("images"));
  TRY_ASSIGN(auto entries, images.members());
  for (const auto& [key, value] : entries) {
    auto digest = Digest::parse(key);
    if (!digest) return std::move(digest).error().context("{}", path);
    TRY_ASSIGN(auto names, value.member("names"));
    TRY_ASSIGN(index[*digest], names.strings());
  }
  return index;
}

Status ImageStore::writeIndex(const std::map<Digest, std::vector<std::string>>& index) const {
  boost::json::object images;
  for (const auto& [digest, names] : index) {
    boost::json::array list;
    for (const auto& n : names) list.emplace_back(n);
    images[digest.str()] = boost::json::object{{"names", list}};
  }
  boost::json::object doc{{"images", images}};
  return fs::writeFileAtomic(root_ + "/images.json", oci::prettyJson(doc) + "\n", 0600);
}

Result<std::vector<ImageRecord>> ImageStore::list() const {
  TRY_ASSIGN(auto index, readIndex());
  std::vector<ImageRecord> out;
  for (auto& [digest, names] : index) out.push_back({digest, names});
  return out;
}

Result<Image> ImageStore::load(const ImageRecord& record) const {
  std::string what = "manifest " + record.manifest.str();
  TRY_ASSIGN(std::string text, blobs_.read(record.manifest));
  TRY_ASSIGN(Manifest manifest, parseManifest(text, what));
  TRY_ASSIGN(std::string configText, blobs_.read(manifest.config.digest));
  TRY_ASSIGN(ImageConfig config,
             parseImageConfig(configText, "config " + manifest.config.digest.str()));
  return Image{record, std::move(manifest), std::move(config)};
}

static bool isHexPrefix(std::string_view s) {
  if (s.size() < 4 || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<ImageRecord> ImageStore::resolve(std::string_view ref) const {
  TRY_ASSIGN(auto records, list());
  if (auto parsed = parseReference(ref)) {
    for (const auto& r : records) {
      if (parsed->digest && r.manifest == *parsed->digest) return r;
      for (const auto& n : r.names)
        if (n == parsed->str()) return r;
    }
  }
  std::string_view hex = ref.substr(0, 7) == "sha256:" ? ref.substr(7) : ref;
  if (isHexPrefix(hex)) {
    std::vector<ImageRecord> found;
    for (const auto& r : records) {
      bool match = r.manifest.hex.compare(0, hex.size(), hex) == 0;
      if (!match) {
        auto manifest = blobs_.read(r.manifest);
        auto parsed = manifest ? parseManifest(*manifest, "manifest") : Result<Manifest>(manifest.error());
        match = parsed && parsed->config.digest.hex.compare(0, hex.size(), hex) == 0;
      }
      if (match) found.push_back(r);
    }
    if (found.size() == 1) return found.front();
    if (found.size() > 1) return Error::make("image '{}': ambiguous, {} images match", ref, found.size());
  }
  return Error::make("image '{}' not found", ref);
}

Status ImageStore::addImage(const Digest& manifest, const std::vector<std::string>& names) {
  TRY_ASSIGN(auto index, readIndex());
  for (auto& [digest, existing] : index)
    std::erase_if(existing, [&](const std::string& n) {
      return std::find(names.begin(), names.end(), n) != names.end();
    });
  auto& mine = index[manifest];
  for (const auto& n : names)
    if (std::find(mine.begin(), mine.end(), n) == mine.end()) mine.push_back(n);
  return writeIndex(index);
}

Result<std::map<std::string, Digest>> ImageStore::containerImages() const {
  std::map<std::string, Digest> out;
  TRY_ASSIGN(auto ids, listDir(root_ + "/containers"));
  for (const auto& id : ids) {
    auto text = fs::readFile(root_ + "/containers/" + id + "/image");
    if (!text) continue;  // being created or removed: its dir says nothing yet
    auto digest = Digest::parse(std::string(strings::trim(*text)));
    if (digest) out[id] = *digest;
  }
  return out;
}

Status ImageStore::remove(std::string_view ref) {
  TRY_ASSIGN(UniqueFd lock, this->lock());
  TRY_ASSIGN(ImageRecord record, resolve(ref));
  TRY_ASSIGN(auto index, readIndex());
  auto& names = index[record.manifest];
  auto parsed = parseReference(ref);
  auto named = parsed ? std::find(names.begin(), names.end(), parsed->str()) : names.end();
  if (named != names.end() && !parsed->digest) names.erase(named);
  else names.clear();
  if (names.empty()) {
    TRY_ASSIGN(auto users, containerImages());
    for (const auto& [id, digest] : users)
      if (digest == record.manifest)
        return Error::make("image '{}' is in use by container '{}'", ref, id);
    index.erase(record.manifest);
  }
  TRY(writeIndex(index));
  TRY(collect(false));
  return ok();
}

Result<PruneReport> ImageStore::prune() {
  TRY_ASSIGN(UniqueFd lock, this->lock());
  return collect(true);
}

// Removing a layer renames it first: a crash mid-removal leaves a temporary
// directory, never a half-empty layer under its real name.
static Status removeLayerDir(const std::string& layers, const std::string& name) {
  std::string doomed = layers + "/.tmp-rm-" + name;
  if (name.rfind(".tmp-", 0) == 0) return fs::removeAll(layers + "/" + name);
  if (::rename((layers + "/" + name).c_str(), doomed.c_str()) != 0)
    return Error::fromErrno("rename layer '" + name + "'");
  return fs::removeAll(doomed);
}

Result<PruneReport> ImageStore::collect(bool danglingImages) {
  PruneReport report;
  TRY_ASSIGN(auto index, readIndex());
  TRY_ASSIGN(auto users, containerImages());
  std::set<Digest> used;
  for (const auto& [id, digest] : users) used.insert(digest);
  if (danglingImages) {
    for (auto it = index.begin(); it != index.end();)
      if (it->second.empty() && !used.count(it->first)) {
        report.images.push_back(it->first);
        it = index.erase(it);
      } else {
        ++it;
      }
    if (!report.images.empty()) TRY(writeIndex(index));
  }
  for (const auto& [digest, names] : index) used.insert(digest);
  std::set<Digest> live;
  for (const auto& manifest : used) {
    TRY_ASSIGN(Image image, load({manifest, {}}));
    for (const auto& d : imageBlobs(manifest, image.manifest)) live.insert(d);
  }
  TRY_ASSIGN(auto stored, blobs_.list());
  for (const auto& d : stored) {
    if (live.count(d)) continue;
    report.bytes += blobs_.size(d).has_value() ? *blobs_.size(d) : 0;
    TRY(blobs_.remove(d));
    report.blobs.push_back(d);
  }
  TRY_ASSIGN(auto layers, listDir(root_ + "/layers"));
  for (const auto& name : layers) {
    bool isLayer = isSha256Hex(name);
    if (isLayer && live.count(Digest{name})) continue;
    TRY(removeLayerDir(root_ + "/layers", name));
    if (isLayer) report.layers.push_back(Digest{name});
  }
  return report;
}

std::string ImageStore::layerDir(const Digest& layer) const {
  return root_ + "/layers/" + layer.hex;
}

Status ImageStore::ensureLayer(const Descriptor& layer, std::string_view what,
                               const Progress& progress) {
  std::string final = layerDir(layer.digest);
  if (fs::exists(final)) return ok();
  TRY(layerCompression(layer.mediaType).context("{}", what));
  if (progress) progress(fmt::format("unpacking {} {} ({} bytes)", what, layer.digest.shortId(), layer.size));
  std::string tmp = root_ + "/layers/.tmp-" + layer.digest.hex + "-" + std::to_string(::getpid());
  TRY(fs::removeAll(tmp));
  if (::mkdir(tmp.c_str(), 0755) != 0) return Error::fromErrno("mkdir '" + tmp + "'");
  auto unpack = [&]() -> Status {
    TRY_ASSIGN(UniqueFd blob, blobs_.openBlob(layer.digest));
    TRY_ASSIGN(UniqueFd dir, UniqueFd::open(tmp, O_RDONLY | O_DIRECTORY));
    TRY(unpackLayer(blob.get(), dir.get(), unpack_, fmt::format("{} {}", what, layer.digest.str())));
    if (::syncfs(dir.get()) != 0) return Error::fromErrno("syncfs '" + tmp + "'");
    if (::rename(tmp.c_str(), final.c_str()) != 0)
      return Error::fromErrno("rename '" + tmp + "' to '" + final + "'");
    return ok();
  };
  auto s = unpack();
  if (!s) (void)fs::removeAll(tmp);
  return s;
}

Status ImageStore::mountRootfs(const Image& image, const std::string& id,
                               const std::string& target) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
    return Error::make("container id '{}': invalid", id);
  std::string dir = root_ + "/containers/" + id;
  {
    TRY_ASSIGN(UniqueFd lock, this->lock());
    if (::mkdir(dir.c_str(), 0700) != 0)
      return Error::fromErrno("container '" + id + "': create '" + dir + "'");
    auto prepare = [&]() -> Status {
      TRY(fs::makeDirs(dir + "/upper", 0755));
      TRY(fs::makeDirs(dir + "/work", 0700));
      TRY(fs::writeFileAtomic(dir + "/target", target, 0600, fs::Durability::Volatile));
      TRY(fs::writeFileAtomic(dir + "/image", image.record.manifest.str(), 0600,
                              fs::Durability::Volatile));
      for (size_t i = 0; i < image.manifest.layers.size(); ++i)
        TRY(ensureLayer(image.manifest.layers[i], fmt::format("layer {}", i + 1)));
      return ok();
    };
    if (auto s = prepare(); !s) {
      (void)fs::removeAll(dir);
      return s;
    }
  }
  std::vector<std::string> lowers;
  for (auto it = image.manifest.layers.rbegin(); it != image.manifest.layers.rend(); ++it)
    lowers.push_back(layerDir(it->digest));
  auto s = mountOverlay(lowers, dir + "/upper", dir + "/work", target);
  if (!s) (void)fs::removeAll(dir);
  return s;
}

Status ImageStore::unmountRootfs(const std::string& id) {
  std::string dir = root_ + "/containers/" + id;
  auto target = fs::readFile(dir + "/target");
  if (!target && fs::exists(dir + "/target")) return std::move(target).error();
  if (target) TRY(unmountOverlay(*target));
  return fs::removeAll(dir);
}

}  // namespace nucleo::images
