#pragma once
// The OCI image-spec documents (index, manifest, config) and their Docker v2
// equivalents, parsed from JSON. Errors name the document and the field:
// "manifest sha256:ab..: layers[1].digest: expected a string".

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/digest.hpp"

namespace nucleo::images {

inline constexpr const char* MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";

struct Platform {
  std::string os, architecture, variant;
};

struct Descriptor {
  std::string mediaType;
  Digest digest;
  uint64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::vector<Descriptor> manifests;
};

struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

// The part of the image config a container is made from.
struct ImageConfig {
  std::string os, architecture, created;
  std::optional<std::vector<std::string>> entrypoint, cmd;
  std::vector<std::string> env;
  std::string workingDir, user, stopSignal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> diffIds;
};

enum class Compression { None, Gzip, Zstd };

bool isIndexMediaType(std::string_view mediaType);
bool isManifestMediaType(std::string_view mediaType);
// The compression a layer media type names (OCI and Docker names, including
// the non-distributable ones); an unknown type is an Error naming it.
Result<Compression> layerCompression(std::string_view mediaType);

// Parsers; `what` prefixes every error ("index.json", "manifest sha256:..").
Result<Index> parseIndex(std::string_view json, std::string_view what);
Result<Manifest> parseManifest(std::string_view json, std::string_view what);
Result<ImageConfig> parseImageConfig(std::string_view json, std::string_view what);

// The platform this binary runs on, in OCI's GOARCH terms (amd64, arm64...).
Platform hostPlatform();

// The entry of a multi-platform index for `platform` (a matching variant is
// preferred, but any entry of the right os/architecture does). Entries with
// no platform match only when the index has nothing better. Error when none.
Result<Descriptor> selectManifest(const Index& index, const Platform& platform,
                                  std::string_view what);

}  // namespace nucleo::images
