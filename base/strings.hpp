#pragma once
// String helpers for parsing kernel files and flags.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nucleo::strings {

std::vector<std::string> split(std::string_view s, char sep, bool skipEmpty = false);
std::string_view trim(std::string_view s);
bool startsWith(std::string_view s, std::string_view prefix);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::optional<int64_t> toInt(std::string_view s);
std::optional<uint64_t> toUint(std::string_view s);

}  // namespace nucleo::strings
