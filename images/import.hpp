#pragma once
// Import of an image from a local file: an OCI image layout (a directory, or a
// tar of one) or a `docker save` archive (tar or its unpacked directory).
// Every blob is hashed and counted against its descriptor before use; on any
// error the store keeps no trace of the import.

#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/store.hpp"

namespace nucleo::images {

struct ImportResult {
  Digest manifest;
  std::vector<std::string> names;
};

// Imports the image at `path`. `ref` (optional) names it and, for a layout
// whose index holds several images, picks the one whose ref.name annotation
// matches; a multi-platform index yields the host's platform. Layers are
// unpacked into the store. Errors name the path and the blob.
Result<ImportResult> importImage(ImageStore& store, const std::string& path,
                                 const std::string& ref, const Progress& progress = {});

}  // namespace nucleo::images
