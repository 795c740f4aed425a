#include "images/manifest.hpp"

#include <sys/utsname.h>

#include <array>

#include "oci/json_reader.hpp"

namespace nucleo::images {

using oci::JsonField;

bool isIndexMediaType(std::string_view m) {
  return m == MEDIA_OCI_INDEX || m == "application/vnd.docker.distribution.manifest.list.v2+json";
}

bool isManifestMediaType(std::string_view m) {
  return m == MEDIA_OCI_MANIFEST || m == "application/vnd.docker.distribution.manifest.v2+json";
}

Result<Compression> layerCompression(std::string_view m) {
  static const std::array<std::pair<std::string_view, Compression>, 10> KNOWN = {{
      {"application/vnd.oci.image.layer.v1.tar", Compression::None},
      {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::Gzip},
      {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::Zstd},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::None},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::Gzip},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::Zstd},
      {"application/vnd.docker.image.rootfs.diff.tar", Compression::None},
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::Gzip},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::Gzip},
      {"application/vnd.docker.image.rootfs.diff.tar.zstd", Compression::Zstd},
  }};
  for (const auto& [name, c] : KNOWN)
    if (name == m) return c;
  return Error::make("unknown layer media type '{}'", m);
}

static Result<Descriptor> parseDescriptor(const JsonField& f) {
  Descriptor d;
  TRY_ASSIGN(auto mediaType, f.member("mediaType"));
  TRY_ASSIGN(d.mediaType, mediaType.string());
  TRY_ASSIGN(auto digestField, f.member("digest"));
  TRY_ASSIGN(std::string digest, digestField.string());
  auto parsed = Digest::parse(digest);
  if (!parsed) return digestField.error(parsed.error().message);
  d.digest = *parsed;
  TRY_ASSIGN(auto sizeField, f.member("size"));
  TRY_ASSIGN(auto size, sizeField.uint64());
  if (!size) return sizeField.error("missing");
  d.size = *size;
  TRY_ASSIGN(auto annotations, f.member("annotations"));
  TRY_ASSIGN(d.annotations, annotations.stringMap());
  TRY_ASSIGN(auto platform, f.member("platform"));
  if (platform.present()) {
    Platform p;
    TRY_ASSIGN(auto os, platform.member("os"));
    TRY_ASSIGN(p.os, os.string());
    TRY_ASSIGN(auto arch, platform.member("architecture"));
    TRY_ASSIGN(p.architecture, arch.string());
    TRY_ASSIGN(auto variant, platform.member("variant"));
    TRY_ASSIGN(p.variant, variant.string());
    d.platform = p;
  }
  return d;
}

static Result<std::vector<Descriptor>> parseDescriptors(const JsonField& list) {
  std::vector<Descriptor> out;
  TRY_ASSIGN(auto items, list.elements());
  for (const auto& item : items) {
    TRY_ASSIGN(auto d, parseDescriptor(item));
    out.push_back(std::move(d));
  }
  return out;
}

static Status checkSchema(const JsonField& root) {
  TRY_ASSIGN(auto field, root.member("schemaVersion"));
  TRY_ASSIGN(auto version, field.int64());
  if (version && *version != 2) return field.error(fmt::format("unsupported version {}", *version));
  return ok();
}

Result<Index> parseIndex(std::string_view json, std::string_view what) {
  TRY_ASSIGN(auto doc, oci::parseJson(json, what));
  auto parse = [&]() -> Result<Index> {
    JsonField root(&doc, "");
    TRY(checkSchema(root));
    TRY_ASSIGN(auto manifests, root.member("manifests"));
    Index index;
    TRY_ASSIGN(index.manifests, parseDescriptors(manifests));
    return index;
  };
  return parse().context("{}", what);
}

Result<Manifest> parseManifest(std::string_view json, std::string_view what) {
  TRY_ASSIGN(auto doc, oci::parseJson(json, what));
  auto parse = [&]() -> Result<Manifest> {
    JsonField root(&doc, "");
    TRY(checkSchema(root));
    TRY_ASSIGN(auto mediaType, root.member("mediaType"));
    TRY_ASSIGN(std::string type, mediaType.string(MEDIA_OCI_MANIFEST));
    if (!isManifestMediaType(type)) return mediaType.error("'" + type + "' is not an image manifest");
    Manifest m;
    TRY_ASSIGN(auto config, root.member("config"));
    if (!config.present()) return config.error("missing");
    TRY_ASSIGN(m.config, parseDescriptor(config));
    TRY_ASSIGN(auto layers, root.member("layers"));
    TRY_ASSIGN(m.layers, parseDescriptors(layers));
    return m;
  };
  return parse().context("{}", what);
}

static Status parseContainerConfig(const JsonField& c, ImageConfig& out) {
  TRY_ASSIGN(auto entrypoint, c.member("Entrypoint"));
  if (entrypoint.present()) {
    TRY_ASSIGN(out.entrypoint, entrypoint.strings());
  }
  TRY_ASSIGN(auto cmd, c.member("Cmd"));
  if (cmd.present()) {
    TRY_ASSIGN(out.cmd, cmd.strings());
  }
  TRY_ASSIGN(auto env, c.member("Env"));
  TRY_ASSIGN(out.env, env.strings());
  TRY_ASSIGN(auto workingDir, c.member("WorkingDir"));
  TRY_ASSIGN(out.workingDir, workingDir.string());
  TRY_ASSIGN(auto user, c.member("User"));
  TRY_ASSIGN(out.user, user.string());
  TRY_ASSIGN(auto stopSignal, c.member("StopSignal"));
  TRY_ASSIGN(out.stopSignal, stopSignal.string());
  TRY_ASSIGN(auto labels, c.member("Labels"));
  TRY_ASSIGN(out.labels, labels.stringMap());
  return ok();
}

Result<ImageConfig> parseImageConfig(std::string_view json, std::string_view what) {
  TRY_ASSIGN(auto doc, oci::parseJson(json, what));
  auto parse = [&]() -> Result<ImageConfig> {
    JsonField root(&doc, "");
    ImageConfig out;
    TRY_ASSIGN(auto os, root.member("os"));
    TRY_ASSIGN(out.os, os.string());
    TRY_ASSIGN(auto arch, root.member("architecture"));
    TRY_ASSIGN(out.architecture, arch.string());
    TRY_ASSIGN(auto created, root.member("created"));
    TRY_ASSIGN(out.created, created.string());
    TRY_ASSIGN(auto config, root.member("config"));
    TRY(parseContainerConfig(config, out));
    TRY_ASSIGN(auto rootfs, root.member("rootfs"));
    TRY_ASSIGN(auto diffIds, rootfs.member("diff_ids"));
    TRY_ASSIGN(out.diffIds, diffIds.strings());
    return out;
  };
  return parse().context("{}", what);
}

Platform hostPlatform() {
  struct utsname u;
  ::uname(&u);
  std::string machine = u.machine;
  Platform p{"linux", machine, ""};
  if (machine == "x86_64") p.architecture = "amd64";
  else if (machine == "aarch64") p.architecture = "arm64", p.variant = "v8";
  else if (machine == "i686" || machine == "i386") p.architecture = "386";
  else if (machine.rfind("armv7", 0) == 0) p.architecture = "arm", p.variant = "v7";
  return p;
}

Result<Descriptor> selectManifest(const Index& index, const Platform& platform,
                                  std::string_view what) {
  const Descriptor* best = nullptr;
  int bestScore = 0;
  for (const auto& d : index.manifests) {
    int score = 1;  // no platform: usable as a last resort
    if (d.platform) {
      if (d.platform->os != platform.os || d.platform->architecture != platform.architecture)
        continue;
      score = d.platform->variant == platform.variant ? 3 : 2;
    }
    if (score > bestScore) best = &d, bestScore = score;
  }
  if (!best)
    return Error::make("{}: no manifest for platform {}/{}", what, platform.os,
                       platform.architecture);
  return *best;
}

}  // namespace nucleo::images
