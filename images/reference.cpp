#include "images/reference.hpp"

#include <cctype>

namespace nucleo::images {

std::string Reference::str() const {
  return digest ? name + "@" + digest->str() : name + ":" + tag;
}

static bool validTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (char c : tag)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return tag.front() != '.' && tag.front() != '-';
}

static bool validName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  size_t firstSlash = name.find('/');
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool inHost = firstSlash != std::string_view::npos && i < firstSlash;
    // Registry hosts may carry a port and uppercase; repositories may not.
    if (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
        c == '.' || c == '_' || c == '-' || c == '/' || (inHost && (c == ':' || std::isupper(c))))
      continue;
    return false;
  }
  return true;
}

Result<Reference> parseReference(std::string_view text) {
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::parse(rest.substr(at + 1));
    if (!digest) return std::move(digest).error().context("reference '{}'", text);
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }
  auto colon = rest.rfind(':');
  auto slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!validTag(ref.tag)) return Error::make("reference '{}': invalid tag '{}'", text, ref.tag);
  } else {
    ref.tag = "latest";
  }
  ref.name = std::string(rest);
  if (!validName(ref.name))
    return Error::make("reference '{}': invalid repository name '{}'", text, ref.name);
  return ref;
}

}  // namespace nucleo::images
