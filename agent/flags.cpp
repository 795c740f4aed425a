#include "agent/flags.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "agent/containers/isolation.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/net_link.hpp"

namespace nucleo::agent {

namespace {

std::string names(const std::string& dashed) {
  std::string underscored = dashed;
  for (auto& c : underscored)
    if (c == '-') c = '_';
  return underscored == dashed ? "--" + dashed : "--" + dashed + ",--" + underscored;
}

std::string selfDir(const char* argv0) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv0);
  auto slash = self.rfind('/');
  return slash == std::string::npos ? "." : self.substr(0, slash);
}

// Flag values as typed, before conversion.
struct RawFlags {
  std::string master, recover = "reconnect", registration = "1mins", reregistration = "2secs";
  std::string retryMin = "10secs", retryMax = "10mins", backoffMax = "15secs";
  std::string pingTimeout = "75secs", killGrace = "3secs";
  int port = 5051;
  std::string argv0;
};

// Reads --credential: Mesos's JSON form or "principal secret" text.
Status readCredential(AgentOptions& o) {
  TRY_ASSIGN(std::string text, fs::readFile(o.credentialFile).context("--credential"));
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(text, ec);
  if (!ec && json.is_object()) {
    const auto& object = json.as_object();
    auto field = [&](const char* key) -> std::string {
      const auto* value = object.if_contains(key);
      return value && value->is_string() ? std::string(value->as_string()) : std::string();
    };
    o.principal = field("principal");
    o.secret = field("secret");
  } else {
    auto words = strings::split(std::string(strings::trim(text)), ' ', true);
    if (words.size() == 2) {
      o.principal = words[0];
      o.secret = words[1];
    }
  }
  if (o.principal.empty())
    return Error::make("--credential {}: expected {{\"principal\": ..., \"secret\": ...}} or 'principal secret'",
                       o.credentialFile);
  return {};
}

// Converts and checks the typed values; fills the defaults that depend on others.
Status finish(AgentOptions& o, const RawFlags& raw) {
  TRY_ASSIGN(auto hostPort, parseHostPort(raw.master).context("--master"));
  o.masterHost = hostPort.first;
  o.masterPort = hostPort.second;
  o.port = static_cast<uint16_t>(raw.port);
  o.recoverCleanup = raw.recover == "cleanup";
  TRY_ASSIGN(o.executorRegistrationTimeout,
             parseDuration(raw.registration).context("--executor-registration-timeout"));
  TRY_ASSIGN(o.executorReregistrationTimeout,
             parseDuration(raw.reregistration).context("--executor-reregistration-timeout"));
  if (o.executorReregistrationTimeout > std::chrono::seconds(15))
    return Error::make("--executor-reregistration-timeout {}ms: at most 15secs, as in Mesos",
                       o.executorReregistrationTimeout.count());
  TRY_ASSIGN(o.statusUpdateRetryMin,
             parseDuration(raw.retryMin).context("--status-update-retry-min"));
  TRY_ASSIGN(o.statusUpdateRetryMax,
             parseDuration(raw.retryMax).context("--status-update-retry-max"));
  TRY_ASSIGN(o.registrationBackoffMax,
             parseDuration(raw.backoffMax).context("--registration-backoff-max"));
  TRY_ASSIGN(o.masterPingTimeout, parseDuration(raw.pingTimeout).context("--master-ping-timeout"));
  TRY_ASSIGN(o.defaultKillGrace, parseDuration(raw.killGrace).context("--default-kill-grace"));
  if (o.statusUpdateRetryMin.count() <= 0 || o.statusUpdateRetryMax < o.statusUpdateRetryMin)
    return Error::make("--status-update-retry-min must be positive and <= the max");
  if (o.workDir.empty() || o.workDir[0] != '/')
    return Error::make("--work-dir '{}' must be an absolute path", o.workDir);
  if (o.hostname.empty()) o.hostname = o.ip;
  if (!o.networkSubnet.empty()) TRY(os::net::Ipv4Net::parse(o.networkSubnet).context("--network-subnet"));
  std::string dir = selfDir(raw.argv0.c_str());
  if (o.runtime.empty()) o.runtime = dir + "/nucleo";
  if (o.supervisor.empty()) o.supervisor = dir + "/nucleo-supervisor";
  if (o.imageRoot.empty()) o.imageRoot = o.workDir + "/images";
  if (!o.credentialFile.empty()) TRY(readCredential(o));
  return {};
}

}  // namespace

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::string s(strings::trim(text));
  size_t unit = s.find_first_not_of("0123456789.");
  std::string number = s.substr(0, unit);
  std::string suffix = unit == std::string::npos ? "" : s.substr(unit);
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !std::isfinite(value))
    return Error::make("duration '{}': expected a number and a unit (e.g. 30s)", text);
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},        {"ns", 1e-9},    {"us", 1e-6}, {"ms", 1e-3},      {"s", 1},
      {"secs", 1},    {"sec", 1},      {"mins", 60}, {"min", 60},       {"m", 60},
      {"hrs", 3600},  {"hr", 3600},    {"h", 3600},  {"days", 86400},   {"d", 86400},
      {"weeks", 604800}};
  for (const auto& [name, scale] : kUnits) {
    if (suffix == name)
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double>(value * scale));
  }
  return Error::make("duration '{}': unknown unit '{}'", text, suffix);
}

Result<std::pair<std::string, uint16_t>> parseHostPort(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return Error::make("'{}' is not HOST:PORT", text);
  auto port = strings::toUint(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535)
    return Error::make("'{}': port must be 1-65535", text);
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::make_pair(host, static_cast<uint16_t>(*port));
}

Result<AgentOptions> parseFlags(int argc, const char* const* argv) {
  CLI::App app{"nucleo-agent: the node agent (Mesos agent)"};
  AgentOptions o;
  RawFlags raw;
  auto& [master, recover, registration, reregistration, retryMin, retryMax, backoffMax, pingTimeout, killGrace,
         port, argv0] = raw;
  port = o.port;
  argv0 = argc > 0 ? argv[0] : "nucleo-agent";
  master = "127.0.0.1:5050";
  app.add_option(names("master"), master, "The master, HOST:PORT")
      ->envname("NUCLEO_MASTER")
      ->capture_default_str();
  app.add_option(names("ip"), o.ip, "Address to listen on")->capture_default_str();
  app.add_option(names("port"), port, "Port to listen on")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option(names("work-dir"), o.workDir, "Checkpoints and sandboxes")->capture_default_str();
  app.add_option(names("hostname"), o.hostname, "Hostname to advertise (default: --ip)");
  app.add_option(names("resources"), o.resources, "e.g. cpus:4;mem:8192;ports:[31000-32000]");
  app.add_option(names("attributes"), o.attributes, "e.g. rack:a;zone:1");
  app.add_option(names("isolation"), o.isolation,
                 "Isolators, comma-separated: cgroups/{cpu,mem,pids,devices,all}, namespaces/{pid,ipc}, "
                 "filesystem/{linux,posix}, network/cni, posix/{cpu,mem}, docker/runtime")->capture_default_str();
  app.add_option(names("runtime"), o.runtime, "The nucleo runtime binary");
  app.add_option(names("supervisor"), o.supervisor, "The nucleo-supervisor binary");
  app.add_option(names("image-root"), o.imageRoot, "The image store (default <work-dir>/images)");
  app.add_option(names("cgroup-parent"), o.cgroupParent, "Parent cgroup of the containers")
      ->capture_default_str();
  app.add_option(names("network-bridge"), o.networkBridge, "Bridge of tasks on network 'bridge'")
      ->capture_default_str();
  app.add_option(names("network-subnet"), o.networkSubnet, "Its subnet when made (default: a free 10.88.0.0/16...)");
  app.add_option(names("network-table"), o.networkTable, "nftables table")->capture_default_str();
  app.add_option(names("network-state"), o.networkState, "Leases and published ports")->capture_default_str();
  app.add_option(names("cni-config-dir"), o.cniConfigDir, "CNI network lists")->capture_default_str();
  app.add_option(names("cni-plugin-dir"), o.cniPluginDir, "CNI plugin directories, colon-separated")
      ->capture_default_str();
  app.add_option(names("executor-registration-timeout"), registration,
                 "An executor must subscribe within this")->capture_default_str();
  app.add_option(names("executor-reregistration-timeout"), reregistration,
                 "After an agent restart, a recovered executor must re-subscribe within this "
                 "(at most 15secs)")->capture_default_str();
  app.add_option(names("recover"), recover, "reconnect|cleanup")->capture_default_str()
      ->check(CLI::IsMember({"reconnect", "cleanup"}));
  app.add_option(names("status-update-retry-min"), retryMin, "First status update resend")
      ->capture_default_str();
  app.add_option(names("status-update-retry-max"), retryMax, "Longest status update backoff")
      ->capture_default_str();
  app.add_option(names("registration-backoff-max"), backoffMax, "Longest reconnect backoff")
      ->capture_default_str();
  app.add_option(names("master-ping-timeout"), pingTimeout, "Master silence that means lost")
      ->capture_default_str();
  app.add_option(names("default-kill-grace"), killGrace, "Kill grace without a KillPolicy")
      ->capture_default_str();
  app.add_option(names("max-body-size"), o.maxBodyBytes, "Largest request body")
      ->capture_default_str();
  app.add_option(names("log-file"), o.logFile, "Log here instead of stderr");
  app.add_option(names("credential"), o.credentialFile,
                 "Principal and secret for the master: JSON {principal, secret} or 'principal secret'");
  app.add_flag("-v,--verbose", o.verbose, "Log at debug level");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Error{0, app.help()};
  } catch (const CLI::ParseError& e) {
    return Error::make("{}", e.what());
  }
  TRY(finish(o, raw));
  TRY(Isolation::parse(o.isolation));  // an unknown isolator stops the agent here
  return o;
}

}  // namespace nucleo::agent
