#pragma once
// nucleo-agent's configuration and its flags (Mesos's underscore spellings,
// --work_dir, are accepted as aliases of --work-dir).

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace nucleo::agent {

struct AgentOptions {
  std::string masterHost;  // from --master HOST:PORT (default 127.0.0.1:5050, $NUCLEO_MASTER)
  uint16_t masterPort = 5050;
  std::string ip = "127.0.0.1";
  uint16_t port = 5051;  // 0 picks a free port
  std::string workDir = "/var/lib/nucleo-agent";
  std::string hostname;    // default: --ip
  std::string resources;   // Mesos syntax; detected when not given
  std::string attributes;  // "rack:a;zone:1"
  // Mesos's --isolation (agent/containers/isolation.hpp); the default is
  // every isolator this agent has.
  std::string isolation =
      "cgroups/cpu,cgroups/mem,cgroups/pids,cgroups/devices,namespaces/pid,namespaces/ipc,"
      "filesystem/linux,network/cni";
  std::string runtime;     // `nucleo`; default: next to the agent binary
  std::string supervisor;  // `nucleo-supervisor`; default: next to the agent binary
  std::string imageRoot;   // the image store; default: <work-dir>/images
  std::string cgroupParent = "/nucleo-agent";  // containers' cgroups go below it
  // Task networks (ContainerInfo.network_infos): the bridge, its subnet when
  // the agent makes it ("" = a free default), nftables table, leases; CNI.
  std::string networkBridge = "nucleo0";
  std::string networkSubnet;
  std::string networkTable = "nucleo";
  std::string networkState = "/var/lib/nucleo/network";
  std::string cniConfigDir = "/etc/cni/net.d";
  std::string cniPluginDir = "/usr/lib/cni:/opt/cni/bin";
  std::chrono::milliseconds executorRegistrationTimeout = std::chrono::minutes(1);
  // After an agent restart, a recovered executor must re-subscribe within
  // this or it is killed (Mesos: 2 s, at most 15 s).
  std::chrono::milliseconds executorReregistrationTimeout = std::chrono::seconds(2);
  bool recoverCleanup = false;  // --recover cleanup: kill everything, forget it
  // Status update retries start here and double up to the max (Mesos: 10 s, 10 min).
  std::chrono::milliseconds statusUpdateRetryMin = std::chrono::seconds(10);
  std::chrono::milliseconds statusUpdateRetryMax = std::chrono::minutes(10);
  // Reconnect backoff to the master: doubling from 1 s up to this, with jitter.
  std::chrono::milliseconds registrationBackoffMax = std::chrono::seconds(15);
  // No event (PING, HEARTBEAT...) from the master for this long: it is lost.
  std::chrono::milliseconds masterPingTimeout = std::chrono::seconds(75);
  std::chrono::milliseconds defaultKillGrace = std::chrono::seconds(3);
  size_t maxBodyBytes = 4 * 1024 * 1024;
  std::chrono::milliseconds requestTimeout = std::chrono::seconds(30);
  bool verbose = false;
  std::string logFile;
  // --credential FILE: HTTP Basic credentials for the master, as Mesos's
  // agent reads them: {"principal": "...", "secret": "..."} or "principal secret".
  std::string credentialFile;
  std::string principal, secret;
};

// "30s", "100ms", "5mins", "2hrs", "1days", "250us" or plain seconds. Errors
// name the text.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

// "host:port" (port 1-65535); errors name the value.
Result<std::pair<std::string, uint16_t>> parseHostPort(std::string_view text);

// Parses argv (argv[0] locates the default --runtime and --supervisor). A
// --help request is an Error with code 0 and the help text as the message.
Result<AgentOptions> parseFlags(int argc, const char* const* argv);

}  // namespace nucleo::agent
