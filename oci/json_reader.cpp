#include "oci/json_reader.hpp"

#include <limits>

namespace nucleo::oci {

Error JsonField::error(std::string_view what) const {
  return Error::make("{}: {}", path_.empty() ? "<root>" : path_, what);
}

Result<JsonField> JsonField::member(std::string_view key) const {
  std::string childPath = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!present()) return JsonField(nullptr, childPath);
  if (!value_->is_object()) return error("expected an object");
  const auto& object = value_->get_object();
  auto it = object.find(key);
  return JsonField(it == object.end() ? nullptr : &it->value(), childPath);
}

Result<std::vector<JsonField>> JsonField::elements() const {
  std::vector<JsonField> out;
  if (!present()) return out;
  if (!value_->is_array()) return error("expected an array");
  const auto& array = value_->get_array();
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i)
    out.emplace_back(&array[i], path_ + "[" + std::to_string(i) + "]");
  return out;
}

Result<std::vector<std::pair<std::string, JsonField>>> JsonField::members() const {
  std::vector<std::pair<std::string, JsonField>> out;
  if (!present()) return out;
  if (!value_->is_object()) return error("expected an object");
  for (const auto& kv : value_->get_object()) {
    std::string key(kv.key());
    out.emplace_back(key, JsonField(&kv.value(), path_ + "." + key));
  }
  return out;
}

Result<std::string> JsonField::string(std::string fallback) const {
  if (!present()) return fallback;
  if (!value_->is_string()) return error("expected a string");
  return std::string(value_->get_string());
}

Result<bool> JsonField::boolean(bool fallback) const {
  if (!present()) return fallback;
  if (!value_->is_bool()) return error("expected true or false");
  return value_->get_bool();
}

Result<std::optional<int64_t>> JsonField::int64() const {
  if (!present()) return std::optional<int64_t>();
  if (value_->is_int64()) return std::optional<int64_t>(value_->get_int64());
  if (value_->is_uint64()) {
    uint64_t v = value_->get_uint64();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return error("integer out of range");
    return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  return error("expected an integer");
}

Result<std::optional<uint64_t>> JsonField::uint64() const {
  if (!present()) return std::optional<uint64_t>();
  if (value_->is_uint64()) return std::optional<uint64_t>(value_->get_uint64());
  if (value_->is_int64()) {
    if (value_->get_int64() < 0) return error("expected a non-negative integer");
    return std::optional<uint64_t>(static_cast<uint64_t>(value_->get_int64()));
  }
  return error("expected a non-negative integer");
}

Result<std::optional<uint32_t>> JsonField::uint32() const {
  TRY_ASSIGN(auto v, uint64());
  if (v && *v > std::numeric_limits<uint32_t>::max()) return error("integer out of range");
  if (!v) return std::optional<uint32_t>();
  return std::optional<uint32_t>(static_cast<uint32_t>(*v));
}

Result<std::vector<std::string>> JsonField::strings() const {
  std::vector<std::string> out;
  TRY_ASSIGN(auto items, elements());
  for (const auto& item : items) {
    if (!item.present() || !item.raw().is_string()) return item.error("expected a string");
    out.emplace_back(item.raw().get_string());
  }
  return out;
}

Result<std::map<std::string, std::string>> JsonField::stringMap() const {
  std::map<std::string, std::string> out;
  TRY_ASSIGN(auto items, members());
  for (const auto& [key, field] : items) {
    TRY_ASSIGN(std::string value, field.string());
    out[key] = value;
  }
  return out;
}

Result<boost::json::value> parseJson(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  boost::json::value value = boost::json::parse(text, ec, {}, options);
  if (ec) return Error::make("{}: invalid JSON: {}", what, ec.message());
  return value;
}

}  // namespace nucleo::oci
