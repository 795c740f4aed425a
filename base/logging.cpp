#include "base/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace nucleo::logging {
namespace {

std::mutex mutex;
spdlog::sink_ptr sink;
spdlog::level::level_enum level = spdlog::level::warn;
Format format = Format::Text;

spdlog::sink_ptr currentSink() {
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

void applyFormat(spdlog::logger& logger) {
  // runc's --log-format json writes one object per line with level, msg, time.
  if (format == Format::Json)
    logger.set_pattern(R"({"level":"%l","msg":"%v","time":"%Y-%m-%dT%H:%M:%S.%fZ","logger":"%n"})",
                       spdlog::pattern_time_type::utc);
  else
    logger.set_pattern("%Y-%m-%dT%H:%M:%S.%f %l %n: %v");
}

}  // namespace

void setup(const std::string& path, Format fmt, bool debug) {
  std::lock_guard lock(mutex);
  format = fmt;
  level = debug ? spdlog::level::debug : spdlog::level::warn;
  if (path.empty())
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> logger) {
    logger->sinks() = {currentSink()};
    logger->set_level(level);
    applyFormat(*logger);
  });
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, currentSink());
  logger->set_level(level);
  applyFormat(*logger);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace nucleo::logging
