#pragma once
// Image references as users type them: "busybox", "busybox:1.36",
// "localhost:5000/tools/busybox:1", "busybox@sha256:<hex>".

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "images/digest.hpp"

namespace nucleo::images {

struct Reference {
  std::string name;  // repository, with registry host when given
  std::string tag;   // "latest" when neither tag nor digest is given
  std::optional<Digest> digest;

  // "name:tag" or "name@sha256:..": the form the store indexes.
  std::string str() const;
};

// Parses a reference. Empty names, uppercase repository names, bad tags and
// bad digests are an Error naming the text.
Result<Reference> parseReference(std::string_view text);

}  // namespace nucleo::images
