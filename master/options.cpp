#include "master/options.hpp"

#include <cmath>
#include <cstdlib>

#include <boost/json.hpp>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace nucleo::master {

Result<Clock::Duration> parseDuration(std::string_view text) {
  std::string s(strings::trim(text));
  size_t unit = s.find_first_not_of("0123456789.");
  std::string number = s.substr(0, unit);
  std::string suffix = unit == std::string::npos ? "" : s.substr(unit);
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !std::isfinite(value))
    return Error::make("duration '{}': expected a number and a unit (e.g. 30s)", text);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1}, {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"secs", 1},
      {"mins", 60}, {"min", 60}, {"m", 60}, {"hrs", 3600}, {"h", 3600}, {"days", 86400},
      {"d", 86400}, {"weeks", 604800}};
  for (const auto& [name, scale] : kUnits) {
    if (suffix == name)
      return std::chrono::duration_cast<Clock::Duration>(
          std::chrono::duration<double>(value * scale));
  }
  return Error::make("duration '{}': unknown unit '{}'", text, suffix);
}

Result<std::map<std::string, double>> parseWeights(std::string_view text) {
  std::map<std::string, double> out;
  for (const auto& item : strings::split(text, ',', true)) {
    auto parts = strings::split(item, '=');
    if (parts.size() != 2 || parts[0].empty())
      return Error::make("weights: '{}' is not role=weight", item);
    char* end = nullptr;
    double w = std::strtod(parts[1].c_str(), &end);
    if (parts[1].empty() || *end != '\0' || !(w > 0) || !std::isfinite(w))
      return Error::make("weights: weight of role '{}' must be a positive number", parts[0]);
    out[parts[0]] = w;
  }
  return out;
}

Result<std::map<std::string, std::string>> loadCredentials(const std::string& path) {
  TRY_ASSIGN(std::string text, fs::readFile(path));
  boost::system::error_code ec;
  auto json = boost::json::parse(text, ec);
  if (ec) return Error::make("credentials '{}': invalid JSON: {}", path, ec.message());
  std::map<std::string, std::string> out;
  const auto* list = json.is_object() ? json.as_object().if_contains("credentials") : nullptr;
  if (!list || !list->is_array())
    return Error::make("credentials '{}': expected {{\"credentials\": [...]}}", path);
  for (const auto& entry : list->as_array()) {
    const auto* object = entry.if_object();
    const auto* principal = object ? object->if_contains("principal") : nullptr;
    const auto* secret = object ? object->if_contains("secret") : nullptr;
    if (!principal || !secret || !principal->is_string() || !secret->is_string())
      return Error::make("credentials '{}': every entry needs string principal and secret", path);
    out[std::string(principal->as_string())] = std::string(secret->as_string());
  }
  return out;
}

}  // namespace nucleo::master
