// nucleo-master: flags (Mesos's underscore spellings accepted too), then the
// HTTP server until SIGINT or SIGTERM.

#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "base/logging.hpp"
#include "base/strings.hpp"
#include "master/server.hpp"

namespace {

using nucleo::master::MasterOptions;

// Adds "--a-b" with "--a_b" as its alias.
std::string names(const std::string& dashed) {
  std::string underscored = dashed;
  for (auto& c : underscored)
    if (c == '-') c = '_';
  return underscored == dashed ? "--" + dashed : "--" + dashed + ",--" + underscored;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "nucleo-master: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nucleo-master: the cluster master (Mesos v1 scheduler API)"};
  MasterOptions options;
  std::string offerTimeout, pingTimeout = "15s", heartbeat = "5s", allocationInterval = "1s";
  std::string reregisterTimeout = "10mins", requestTimeout = "30s";
  std::string roles, weights, credentials;
  int port = options.port;
  bool verbose = false;
  app.add_option(names("ip"), options.ip, "Address to listen on")->capture_default_str();
  app.add_option(names("port"), port, "Port to listen on")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option(names("hostname"), options.hostname, "Hostname to advertise (default: --ip)");
  app.add_option(names("work-dir"), options.workDir, "Directory for the master's registry");
  app.add_option(names("offer-timeout"), offerTimeout, "Rescind offers held longer (e.g. 30s); none by default");
  app.add_option(names("agent-ping-timeout"), pingTimeout, "Silence after which a ping is missed")->capture_default_str();
  app.add_option(names("max-agent-ping-timeouts"), options.maxAgentPingTimeouts,
                 "Missed pings before an agent is unreachable")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option(names("heartbeat-interval"), heartbeat, "HEARTBEAT period on event streams")->capture_default_str();
  app.add_option(names("allocation-interval"), allocationInterval, "Batch allocation period")->capture_default_str();
  app.add_option(names("roles"), roles, "Comma-separated roles frameworks may use (any when unset)");
  app.add_option(names("weights"), weights, "Role weights: role=weight,...");
  app.add_option(names("credentials"), credentials, "JSON file of principal/secret pairs: require HTTP Basic auth");
  app.add_option(names("agent-reregister-timeout"), reregisterTimeout,
                 "Recovered agents not back by then are unreachable")->capture_default_str();
  app.add_option(names("tls-cert"), options.tlsCert, "PEM certificate chain: the port speaks TLS only");
  app.add_option(names("tls-key"), options.tlsKey, "PEM private key of --tls-cert");
  app.add_option(names("request-timeout"), requestTimeout,
                 "Time to send a request, or for a stream reader to take a record")->capture_default_str();
  app.add_option(names("max-event-queue"), options.maxQueuedEvents,
                 "Records queued for a stream reader before it is disconnected")->capture_default_str();
  app.add_option(names("max-completed-tasks-per-framework"), options.maxCompletedTasksPerFramework,
                 "Finished, acknowledged tasks kept per framework")->capture_default_str();
  app.add_option(names("max-body-size"), options.maxBodyBytes, "Largest request body in bytes")->capture_default_str();
  app.add_option(names("max-connections"), options.maxConnections, "Most open HTTP connections")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "Log at debug level");
  CLI11_PARSE(app, argc, argv);

  nucleo::logging::setup("", nucleo::logging::Format::Text, verbose);
  if (!verbose) nucleo::logging::get("master")->set_level(spdlog::level::info);
  options.port = static_cast<uint16_t>(port);
  auto duration = [](const std::string& flag, const std::string& value, auto* out) -> bool {
    auto d = nucleo::master::parseDuration(value);
    if (!d) {
      std::fprintf(stderr, "nucleo-master: --%s: %s\n", flag.c_str(), d.error().message.c_str());
      return false;
    }
    *out = *d;
    return true;
  };
  if (!offerTimeout.empty()) {
    nucleo::master::Clock::Duration d;
    if (!duration("offer-timeout", offerTimeout, &d)) return 1;
    options.offerTimeout = d;
  }
  if (!duration("agent-ping-timeout", pingTimeout, &options.agentPingTimeout) ||
      !duration("heartbeat-interval", heartbeat, &options.heartbeatInterval) ||
      !duration("allocation-interval", allocationInterval, &options.allocationInterval) ||
      !duration("agent-reregister-timeout", reregisterTimeout, &options.agentReregisterTimeout) ||
      !duration("request-timeout", requestTimeout, &options.requestTimeout))
    return 1;
  if (options.requestTimeout <= nucleo::master::Clock::Duration::zero())
    return fail("--request-timeout must be positive");
  if (options.heartbeatInterval <= nucleo::master::Clock::Duration::zero())
    return fail("--heartbeat-interval must be positive");
  if (!roles.empty()) options.roles = nucleo::strings::split(roles, ',', true);
  if (!weights.empty()) {
    auto parsed = nucleo::master::parseWeights(weights);
    if (!parsed) return fail(parsed.error().message);
    options.weights = *parsed;
  }
  if (!credentials.empty()) {
    auto parsed = nucleo::master::loadCredentials(credentials);
    if (!parsed) return fail(parsed.error().message);
    options.credentials = *parsed;
  }

  // Every agent and framework holds a connection: use the whole fd allowance.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  // The server thread inherits the blocked signals; this thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = nucleo::master::Server::start(options);
  if (!server) return fail(server.error().message);
  std::printf("nucleo-master listening on %s:%u\n", options.ip.c_str(), (*server)->port());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->stop();
  return 0;
}
