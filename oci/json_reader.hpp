#pragma once
// Typed access to a Boost.JSON tree that remembers where it is, so that each
// error names the field: "linux.resources.memory.limit: expected an integer".

#include <boost/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::oci {

class JsonField {
 public:
  JsonField(const boost::json::value* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool present() const { return value_ && !value_->is_null(); }
  const boost::json::value& raw() const { return *value_; }

  // A named member of an object (absent when missing or null).
  Result<JsonField> member(std::string_view key) const;
  // The elements of an array; absent gives an empty list.
  Result<std::vector<JsonField>> elements() const;
  // The members of an object; absent gives an empty list.
  Result<std::vector<std::pair<std::string, JsonField>>> members() const;

  Result<std::string> string(std::string fallback = {}) const;
  Result<bool> boolean(bool fallback = false) const;
  Result<std::optional<int64_t>> int64() const;
  Result<std::optional<uint64_t>> uint64() const;
  Result<std::optional<uint32_t>> uint32() const;
  Result<std::vector<std::string>> strings() const;
  Result<std::map<std::string, std::string>> stringMap() const;

  Error error(std::string_view what) const;

 private:
  const boost::json::value* value_;
  std::string path_;
};

// Parses text into a document; syntax errors carry line-free offsets.
Result<boost::json::value> parseJson(std::string_view text, std::string_view what);

}  // namespace nucleo::oci
