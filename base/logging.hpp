#pragma once
// Logging setup: one named spdlog logger per component, key=value ids, no
// trailing period. Code after clone() in a container init never logs.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace nucleo::logging {

enum class Format { Text, Json };

// Sends every logger to `path` (stderr when empty) in the given format;
// `debug` lowers the level to debug. Safe to call more than once.
void setup(const std::string& path, Format format, bool debug);

// The logger for a component ("runtime", "isolator.cgroups"), created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace nucleo::logging
