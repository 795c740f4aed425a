// nucleo-agent: flags (Mesos's underscore spellings accepted), then the
// daemon until SIGINT or SIGTERM. Tasks keep running when it stops.

#include <cstdio>

#include "agent/daemon.hpp"
#include "base/logging.hpp"

int main(int argc, char** argv) {
  auto options = nucleo::agent::parseFlags(argc, argv);
  if (!options) {
    bool help = options.error().code == 0 && options.error().message.find("Usage") != std::string::npos;
    std::fprintf(help ? stdout : stderr, "%s%s\n", help ? "" : "nucleo-agent: ",
                 options.error().message.c_str());
    return help ? 0 : 1;
  }
  nucleo::logging::setup(options->logFile, nucleo::logging::Format::Text, options->verbose);
  if (!options->verbose) nucleo::logging::get("agent")->set_level(spdlog::level::info);
  auto daemon = nucleo::agent::AgentDaemon::create(*options);
  if (!daemon) {
    std::fprintf(stderr, "nucleo-agent: %s\n", daemon.error().message.c_str());
    return 1;
  }
  std::printf("nucleo-agent listening on %s:%u\n", options->ip.c_str(), (*daemon)->port());
  std::fflush(stdout);
  (*daemon)->run();
  return 0;
}
