#include "images/import.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>

#include "base/fs.hpp"
#include "images/reference.hpp"
#include "oci/json_reader.hpp"

namespace nucleo::images {
namespace {

// Where the files of an image come from. ingest() stores the file `rel` as a
// blob, checking it against `expect`; every stored blob is remembered so that
// a failed import can take back exactly what it added.
class Source {
 public:
  explicit Source(const BlobStore& blobs) : blobs_(blobs) {
    if (auto all = blobs.list()) before_.insert(all->begin(), all->end());
  }
  virtual ~Source() = default;
  virtual bool has(const std::string& rel) const = 0;
  virtual Result<Digest> ingest(const std::string& rel, BlobExpectation expect) = 0;
  Result<std::string> readText(const std::string& rel) {
    TRY_ASSIGN(Digest d, ingest(rel, {{}, {}, rel}));
    return blobs_.read(d);
  }
  // Takes back every blob this import added, and layers unpacked from them.
  void rollback(const ImageStore& store) {
    for (const auto& d : added_) {
      (void)blobs_.remove(d);
      (void)fs::removeAll(store.layerDir(d));
    }
  }
  // Drops added blobs the image does not use (index.json, other platforms).
  void dropUnused(const std::vector<Digest>& keep) {
    for (const auto& d : added_)
      if (std::find(keep.begin(), keep.end(), d) == keep.end()) (void)blobs_.remove(d);
  }
  void adopt(const Digest& d, bool existed) { noteAdded(d, existed); }

 protected:
  // Blobs present before the import are never taken back, whatever the
  // source claimed about them.
  void noteAdded(const Digest& d, bool existed) {
    if (!existed && !before_.count(d)) added_.insert(d);
  }
  const BlobStore& blobs_;
  std::set<Digest> before_, added_;
};

class DirSource : public Source {
 public:
  DirSource(const BlobStore& blobs, UniqueFd dir) : Source(blobs), dir_(std::move(dir)) {}
  bool has(const std::string& rel) const override {
    struct stat st;
    return ::fstatat(dir_.get(), rel.c_str(), &st, 0) == 0;
  }
  Result<Digest> ingest(const std::string& rel, BlobExpectation expect) override {
    if (expect.digest && blobs_.has(*expect.digest)) {
      auto size = blobs_.size(*expect.digest);
      if (size && (!expect.size || *size == *expect.size)) return *expect.digest;
    }
    // The layout names the files; none may reach outside the directory.
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = static_cast<int>(::syscall(SYS_openat2, dir_.get(), rel.c_str(), &how, sizeof how));
    if (fd < 0) return Error::fromErrno(fmt::format("{}: open '{}'", expect.what, rel));
    UniqueFd file(fd);
    std::string what = expect.what;
    TRY_ASSIGN(Digest d, blobs_.ingestFd(file.get(), std::move(expect)));
    noteAdded(d, false);
    return d;
  }

 private:
  UniqueFd dir_;
};

// A tar is read once, front to back: every regular member goes into the blob
// store as it streams past, and lookups afterwards check the digest.
class TarSource : public Source {
 public:
  explicit TarSource(const BlobStore& blobs) : Source(blobs) {}
  Status load(const std::string& path);
  bool has(const std::string& rel) const override { return members_.count(rel) > 0; }
  Result<Digest> ingest(const std::string& rel, BlobExpectation expect) override {
    auto it = members_.find(rel);
    if (it == members_.end()) return Error::make("{}: '{}' missing from the archive", expect.what, rel);
    const auto& [digest, size] = it->second;
    if (expect.size && size != *expect.size)
      return Error::make("{}: size mismatch: expected {} bytes, got {}", expect.what, *expect.size, size);
    if (expect.digest && digest != *expect.digest)
      return Error::make("{}: digest mismatch: expected {}, got {}", expect.what,
                         expect.digest->str(), digest.str());
    return digest;
  }

 private:
  std::map<std::string, std::pair<Digest, uint64_t>> members_;
};

Status TarSource::load(const std::string& path) {
  struct Free { void operator()(archive* a) const { archive_read_free(a); } };
  std::unique_ptr<archive, Free> a(archive_read_new());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 17) != ARCHIVE_OK)
    return Error::make("'{}': {}", path, archive_error_string(a.get()));
  archive_entry* e;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    auto parts = splitEntryName(archive_entry_pathname(e));
    if (!parts) return std::move(parts).error().context("'{}': member '{}'", path, archive_entry_pathname(e));
    std::string rel;
    for (const auto& p : *parts) rel += (rel.empty() ? "" : "/") + p;
    BlobExpectation expect{{}, static_cast<uint64_t>(archive_entry_size(e)), "'" + rel + "'"};
    if (parts->size() == 3 && (*parts)[0] == "blobs" && (*parts)[1] == "sha256") {
      auto d = Digest::parse("sha256:" + (*parts)[2]);
      if (!d) return std::move(d).error().context("'{}': member '{}'", path, rel);
      expect.digest = *d;
    }
    bool existed = expect.digest && blobs_.has(*expect.digest);
    TRY_ASSIGN(BlobWriter writer, blobs_.ingest(expect));
    const void* buffer;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(a.get(), &buffer, &size, &offset)) == ARCHIVE_OK)
      TRY(writer.write(buffer, size));
    if (r != ARCHIVE_EOF) return Error::make("'{}': {}", path, archive_error_string(a.get()));
    TRY_ASSIGN(Digest d, writer.commit().context("'{}'", path));
    noteAdded(d, existed);
    members_[rel] = {d, writer.written()};
  }
  if (r != ARCHIVE_EOF) return Error::make("'{}': {}", path, archive_error_string(a.get()));
  return ok();
}

std::string blobPath(const Digest& d) { return "blobs/sha256/" + d.hex; }

struct Importer {
  ImageStore& store;
  Source& source;
  std::string path;
  const Progress& progress;

  Result<Digest> manifestFromIndex(const Descriptor& d, int depth);
  Result<Digest> manifestFromLayout(const std::string& ref, std::vector<std::string>& names);
  Result<Digest> manifestFromDockerSave(const std::string& ref, std::vector<std::string>& names);
  Status checkManifest(const Digest& digest);
};

Result<Digest> Importer::manifestFromIndex(const Descriptor& d, int depth) {
  std::string what = fmt::format("'{}': {} {}", path, isIndexMediaType(d.mediaType) ? "index" : "manifest", d.digest.str());
  if (depth > 4) return Error::make("{}: indexes nested too deep", what);
  if (isManifestMediaType(d.mediaType)) {
    TRY(source.ingest(blobPath(d.digest), {d.digest, d.size, what}));
    return d.digest;
  }
  if (!isIndexMediaType(d.mediaType)) return Error::make("{}: unknown media type '{}'", what, d.mediaType);
  TRY(source.ingest(blobPath(d.digest), {d.digest, d.size, what}));
  TRY_ASSIGN(std::string text, store.blobs().read(d.digest));
  TRY_ASSIGN(Index index, parseIndex(text, what));
  TRY_ASSIGN(Descriptor chosen, selectManifest(index, hostPlatform(), what));
  return manifestFromIndex(chosen, depth + 1);
}

Status Importer::checkManifest(const Digest& digest) {
  std::string what = fmt::format("'{}': manifest {}", path, digest.str());
  TRY_ASSIGN(std::string text, store.blobs().read(digest));
  TRY_ASSIGN(Manifest m, parseManifest(text, what));
  auto ensure = [&](const Descriptor& d, const std::string& blobWhat) -> Status {
    if (store.blobs().has(d.digest) && store.blobs().size(d.digest).has_value() &&
        *store.blobs().size(d.digest) == d.size)
      return ok();
    TRY(source.ingest(blobPath(d.digest), {d.digest, d.size, blobWhat}));
    return ok();
  };
  TRY(ensure(m.config, what + ": config " + m.config.digest.str()));
  TRY_ASSIGN(std::string configText, store.blobs().read(m.config.digest));
  TRY(parseImageConfig(configText, "config " + m.config.digest.str()));
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    std::string layerWhat = fmt::format("{}: layer {} {}", what, i + 1, l.digest.str());
    TRY(layerCompression(l.mediaType).context("{}", layerWhat));
    TRY(ensure(l, layerWhat));
  }
  for (size_t i = 0; i < m.layers.size(); ++i)
    TRY(store.ensureLayer(m.layers[i], fmt::format("layer {}/{}", i + 1, m.layers.size()), progress)
            .context("'{}'", path));
  return ok();
}


static std::string baseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  if (slash != std::string::npos) path = path.substr(slash + 1);
  for (std::string_view ext : {".tar.gz", ".tgz", ".tar"})
    if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
      return path.substr(0, path.size() - ext.size());
  return path;
}

// An OCI layout's ref.name is often only a tag ("latest"): the repository is
// then the layout's file name, as podman does for oci-archive.
static std::optional<std::string> nameFromAnnotation(const std::string& value,
                                                     const std::string& path) {
  std::string full = value.find_first_of(":/@") == std::string::npos
                         ? baseName(path) + ":" + value
                         : value;
  auto ref = parseReference(full);
  if (!ref) return std::nullopt;
  return ref->str();
}

Result<Digest> Importer::manifestFromLayout(const std::string& ref, std::vector<std::string>& names) {
  TRY_ASSIGN(std::string text, source.readText("index.json"));
  TRY_ASSIGN(Index index, parseIndex(text, "'" + path + "': index.json"));
  std::vector<Descriptor> candidates = index.manifests;
  if (!ref.empty()) {
    auto parsed = parseReference(ref);
    std::vector<Descriptor> matching;
    for (const auto& d : index.manifests) {
      auto it = d.annotations.find(ANNOTATION_REF_NAME);
      if (it != d.annotations.end() &&
          (it->second == ref || (parsed && (it->second == parsed->tag || it->second == parsed->str()))))
        matching.push_back(d);
    }
    if (!matching.empty()) candidates = matching;
  }
  Descriptor chosen;
  if (candidates.size() == 1) {
    chosen = candidates.front();
  } else if (!candidates.empty() && std::all_of(candidates.begin(), candidates.end(),
                                                [](const Descriptor& d) { return d.platform.has_value(); })) {
    TRY_ASSIGN(chosen, selectManifest(Index{candidates}, hostPlatform(), "'" + path + "': index.json"));
  } else {
    return Error::make("'{}': index.json holds {} images; name one with its ref.name", path,
                       candidates.size());
  }
  auto it = chosen.annotations.find(ANNOTATION_REF_NAME);
  if (ref.empty() && it != chosen.annotations.end())
    if (auto name = nameFromAnnotation(it->second, path)) names.push_back(*name);
  return manifestFromIndex(chosen, 0);
}

static Result<Digest> digestFromName(const std::string& rel) {
  auto slash = rel.rfind('/');
  std::string file = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (file.size() > 5 && file.compare(file.size() - 5, 5, ".json") == 0) file.resize(file.size() - 5);
  return Digest::parse("sha256:" + file);
}

static Result<std::string> layerMediaType(const BlobStore& blobs, const Digest& d) {
  TRY_ASSIGN(UniqueFd fd, blobs.openBlob(d));
  unsigned char magic[4] = {};
  if (::pread(fd.get(), magic, sizeof magic, 0) < 0) return Error::fromErrno("read " + d.str());
  std::string type = MEDIA_OCI_LAYER;
  if (magic[0] == 0x1f && magic[1] == 0x8b) type += "+gzip";
  if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) type += "+zstd";
  return type;
}

Result<Digest> Importer::manifestFromDockerSave(const std::string& ref, std::vector<std::string>& names) {
  std::string what = "'" + path + "': manifest.json";
  TRY_ASSIGN(std::string text, source.readText("manifest.json"));
  TRY_ASSIGN(auto doc, oci::parseJson(text, what));
  oci::JsonField root(&doc, "");
  TRY_ASSIGN(auto entries, root.elements());
  std::optional<oci::JsonField> chosen;
  auto wanted = parseReference(ref);
  for (const auto& e : entries) {
    TRY_ASSIGN(auto tagsField, e.member("RepoTags"));
    TRY_ASSIGN(auto tags, tagsField.strings());
    for (const auto& t : tags)
      if (wanted && parseReference(t) && parseReference(t)->str() == wanted->str()) chosen = e;
  }
  if (!chosen && entries.size() == 1) chosen = entries.front();
  if (!chosen) return Error::make("{}: holds {} images; name one of their RepoTags", what, entries.size());
  TRY_ASSIGN(auto configField, chosen->member("Config"));
  TRY_ASSIGN(std::string configRel, configField.string());
  auto expected = digestFromName(configRel);
  std::optional<Digest> configExpect;
  if (expected) configExpect = *expected;
  TRY_ASSIGN(Digest config, source.ingest(configRel, {configExpect, {}, what + ": config '" + configRel + "'"}));
  boost::json::array layers;
  TRY_ASSIGN(auto layersField, chosen->member("Layers"));
  TRY_ASSIGN(auto layerRels, layersField.strings());
  for (const auto& rel : layerRels) {
    auto name = digestFromName(rel);
    std::optional<Digest> layerExpect;
    if (rel.rfind("blobs/", 0) == 0 && name) layerExpect = *name;
    TRY_ASSIGN(Digest d, source.ingest(rel, {layerExpect, {}, what + ": layer '" + rel + "'"}));
    TRY_ASSIGN(std::string type, layerMediaType(store.blobs(), d));
    TRY_ASSIGN(uint64_t size, store.blobs().size(d));
    layers.push_back({{"mediaType", type}, {"digest", d.str()}, {"size", size}});
  }
  TRY_ASSIGN(uint64_t configSize, store.blobs().size(config));
  boost::json::object manifest{{"schemaVersion", 2}, {"mediaType", MEDIA_OCI_MANIFEST},
      {"config", {{"mediaType", MEDIA_OCI_CONFIG}, {"digest", config.str()}, {"size", configSize}}},
      {"layers", layers}};
  std::string bytes = boost::json::serialize(manifest);
  bool existed = store.blobs().has(sha256Of(bytes));
  TRY_ASSIGN(Digest digest, store.blobs().ingestBytes(bytes, {{}, {}, what}));
  source.adopt(digest, existed);
  if (ref.empty()) {
    TRY_ASSIGN(auto tagsField, chosen->member("RepoTags"));
    TRY_ASSIGN(auto tags, tagsField.strings());
    for (const auto& t : tags)
      if (auto r = parseReference(t)) names.push_back(r->str());
  }
  return digest;
}

Result<std::unique_ptr<Source>> openSource(const ImageStore& store, const std::string& path) {
  const BlobStore& blobs = store.blobs();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Error::fromErrno("import '" + path + "'");
  if (S_ISDIR(st.st_mode)) {
    TRY_ASSIGN(UniqueFd dir, UniqueFd::open(path, O_RDONLY | O_DIRECTORY));
    return std::unique_ptr<Source>(std::make_unique<DirSource>(blobs, std::move(dir)));
  }
  auto tar = std::make_unique<TarSource>(blobs);
  if (auto s = tar->load(path); !s) {
    tar->rollback(store);
    return std::move(s).error();
  }
  return std::unique_ptr<Source>(std::move(tar));
}

}  // namespace

Result<ImportResult> importImage(ImageStore& store, const std::string& path,
                                 const std::string& ref, const Progress& progress) {
  std::vector<std::string> names;
  if (!ref.empty()) {
    TRY_ASSIGN(Reference parsed, parseReference(ref));
    if (parsed.digest) return Error::make("import: name '{}' must be a tag, not a digest", ref);
    names.push_back(parsed.str());
  }
  TRY_ASSIGN(UniqueFd lock, store.lock());
  if (progress) progress("reading " + path);
  TRY_ASSIGN(auto source, openSource(store, path));
  Importer importer{store, *source, path, progress};
  auto run = [&]() -> Result<Digest> {
    Result<Digest> manifest = Error::make("'{}': neither an OCI layout (oci-layout) nor a docker save archive (manifest.json)", path);
    if (source->has("oci-layout")) {
      manifest = importer.manifestFromLayout(ref, names);
    } else if (source->has("manifest.json")) {
      manifest = importer.manifestFromDockerSave(ref, names);
    }
    if (!manifest) return manifest;
    TRY(importer.checkManifest(*manifest));
    TRY(store.addImage(*manifest, names));
    return manifest;
  };
  auto manifest = run();
  if (!manifest) {
    source->rollback(store);
    return std::move(manifest).error();
  }
  TRY_ASSIGN(Image image, store.load({*manifest, names}));
  source->dropUnused(imageBlobs(*manifest, image.manifest));
  return ImportResult{*manifest, names};
}

}  // namespace nucleo::images
