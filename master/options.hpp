#pragma once
// nucleo-master's configuration, from flags (see main.cpp), and the parsers
// for its value syntaxes.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "master/allocator/clock.hpp"

namespace nucleo::master {

struct Credential {
  std::string principal;
  std::string secret;
};

struct MasterOptions {
  std::string ip = "127.0.0.1";
  uint16_t port = 5050;
  std::string hostname;  // default: ip
  std::string workDir;
  // Offers outstanding longer are rescinded; none when unset (Mesos default).
  std::optional<Clock::Duration> offerTimeout;
  Clock::Duration agentPingTimeout = std::chrono::seconds(15);
  int maxAgentPingTimeouts = 5;
  // Below 10 s: some clients drop a stream that is quiet for 10 s.
  Clock::Duration heartbeatInterval = std::chrono::seconds(5);
  Clock::Duration allocationInterval = std::chrono::milliseconds(100);
  std::map<std::string, double> weights;
  // Roles frameworks may use; any valid role when empty.
  std::vector<std::string> roles;
  // Principal -> secret; HTTP Basic authentication is required when set.
  std::map<std::string, std::string> credentials;
  size_t maxBodyBytes = 4 * 1024 * 1024;
  // A request (headers and body) must arrive within this, and a stream's
  // reader must take each record within it; idle connections close after it.
  Clock::Duration requestTimeout = std::chrono::seconds(30);
  // Open connections beyond this are closed on accept (each agent and each
  // framework holds one for its stream).
  size_t maxConnections = 50000;
  // Records queued for a subscriber that does not read before it is dropped.
  size_t maxQueuedEvents = 10000;
  // Agents recovered from the registry that do not re-register within this
  // are marked unreachable (Mesos's --agent_reregister_timeout).
  Clock::Duration agentReregisterTimeout = std::chrono::minutes(10);
  // Concurrent operator SUBSCRIBE streams (Mesos caps them at 1000).
  size_t maxOperatorSubscribers = 1000;
  // Terminal, acknowledged tasks kept per framework for GET_TASKS and /state
  // (Mesos's --max_completed_tasks_per_framework).
  size_t maxCompletedTasksPerFramework = 1000;
  // PEM files: when both are set the port speaks TLS only.
  std::string tlsCert;
  std::string tlsKey;
  std::string version = "1.11.0";
};

// "30s", "100ms", "5mins", "2hrs", "1days", "250us", "10ns" or a plain number
// of seconds; negative values and other units are errors.
Result<Clock::Duration> parseDuration(std::string_view text);

// "role1=2.5,role2=1": every weight > 0.
Result<std::map<std::string, double>> parseWeights(std::string_view text);

// A Mesos credentials file: {"credentials":[{"principal":..,"secret":..}]}.
Result<std::map<std::string, std::string>> loadCredentials(const std::string& path);

}  // namespace nucleo::master
