// Pods: a supervisor in pause mode holds the pod's UTS and IPC (and maybe
// network) namespaces; task containers join them by /proc/<pid>/ns paths.
#include <signal.h>
#include <sys/stat.h>

#include "agent/containers/container_files.hpp"
#include "agent/containers/containers.hpp"
#include "agent/containers/spec_builder.hpp"
#include "agent/containers/supervisor_protocol.hpp"
#include "agent/containers/task_network.hpp"
#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/process.hpp"

namespace nucleo::agent {
namespace {

namespace sv = supervisor;

constexpr const char* NET_FILE = "net";
constexpr const char* ATTACHMENT_FILE = "network";  // network::Attachment JSON
constexpr const char* ADDRESSES_FILE = "addresses";

Status validatePodId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != "..";
  for (char c : id) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) return Error::make("pod id '{}': expected [A-Za-z0-9_.-]{{1,128}}", id);
  return {};
}

// A hostname is at most 63 characters; '_' and '.' are not label characters.
std::string hostnameOf(const std::string& podId) {
  std::string h = podId.substr(0, 63);
  for (char& c : h)
    if (c == '_' || c == '.') c = '-';
  return h;
}

Result<std::optional<std::pair<pid_t, UniqueFd>>> pauseOf(const std::string& dir) {
  auto text = fs::readFile(dir + "/" + sv::SUPERVISOR_FILE);
  if (!text) return std::optional<std::pair<pid_t, UniqueFd>>();
  TRY_ASSIGN(auto sid, detail::parseSupervisorId(*text));
  TRY_ASSIGN(auto pidfd, detail::openIfSame(sid));
  if (!pidfd) return std::optional<std::pair<pid_t, UniqueFd>>();
  return std::optional(std::make_pair(sid.pid, std::move(*pidfd)));
}

}  // namespace

std::string Containers::podDir(const std::string& podId) const { return options_.workDir + "/pods/" + podId; }

Status Containers::createPod(const std::string& podId, bool ownNetwork) {
  TRY(validatePodId(podId));
  std::string dir = podDir(podId);
  TRY_ASSIGN(auto running, pauseOf(dir));
  if (running) return {};
  TRY(fs::removeAll(dir));
  TRY(fs::makeDirs(dir + "/shm", 0700));
  // /dev/shm semantics for every task of the pod.
  if (::chmod((dir + "/shm").c_str(), 01777) != 0) return Error::fromErrno("chmod '" + dir + "/shm'");
  if (ownNetwork) TRY(fs::writeFileAtomic(dir + "/" + NET_FILE, "own\n", 0600, fs::Durability::Volatile));
  std::vector<std::string> argv = {options_.supervisorBinary, "pause", "--dir", dir, "--hostname", hostnameOf(podId)};
  if (ownNetwork) argv.push_back("--net");
  auto report = detail::startSupervisorProcess(argv);
  if (!report) {
    (void)fs::removeAll(dir);
    return std::move(report).error().context("create pod '{}'", podId);
  }
  return {};
}

Status Containers::createPod(const std::string& podId,
                             const std::optional<mesos::v1::ContainerInfo>& container) {
  TRY_ASSIGN(auto net, taskNetwork(container, options_.bridge.name).context("pod '{}'", podId));
  TRY(networkAllowed(net, options_.isolation.networkCni).context("pod '{}'", podId));
  TRY_ASSIGN(auto running, pauseOf(podDir(podId)));
  if (running) return {};
  TRY(createPod(podId, !net.mode.empty()));
  if (net.mode.empty() || net.mode == "none") return {};
  auto attached = attachPod(podId, net.mode, net.publish);
  if (!attached) {
    (void)destroyPod(podId);
    return std::move(attached).error().context("pod '{}'", podId);
  }
  return {};
}

Status Containers::attachPod(const std::string& podId, const std::string& mode,
                             const std::vector<std::string>& publish) {
  std::string dir = podDir(podId);
  TRY_ASSIGN(auto running, pauseOf(dir));
  if (!running) return Error::make("the pod's pause process is gone");
  TRY_ASSIGN(network::Request req, network::parseMode(mode));
  for (const auto& p : publish) {
    TRY_ASSIGN(auto mapping, network::parsePortMapping(p));
    req.ports.push_back(mapping);
  }
  req.bridge = options_.bridge;
  req.cni = options_.cni;
  req.owner = dir;  // lives exactly as long as the pod
  std::string netns = "/proc/" + std::to_string(running->first) + "/ns/net";
  TRY_ASSIGN(auto att, network::attach(podId, netns, req));
  std::string lines;
  for (const auto& ip : att.ips) lines += ip.substr(0, ip.find('/')) + "\n";
  auto saved = fs::writeFileAtomic(dir + "/" + ATTACHMENT_FILE, att.toJson(), 0600, fs::Durability::Synced);
  if (saved) saved = fs::writeFileAtomic(dir + "/" + ADDRESSES_FILE, lines, 0600, fs::Durability::Volatile);
  if (!saved) {
    (void)network::detach(att, netns);
    return std::move(saved).error();
  }
  return {};
}

Status Containers::destroyPod(const std::string& podId) {
  TRY(validatePodId(podId));
  std::string dir = podDir(podId);
  TRY_ASSIGN(auto running, pauseOf(dir));
  // Detached while the namespace lives, so CNI plugins can clean inside it.
  if (auto saved = fs::readFile(dir + "/" + ATTACHMENT_FILE)) {
    TRY_ASSIGN(auto att, network::Attachment::fromJson(*saved));
    std::string netns = running ? "/proc/" + std::to_string(running->first) + "/ns/net" : "";
    TRY(network::detach(att, netns).context("pod '{}'", podId));
    TRY(fs::removeAll(dir + "/" + ATTACHMENT_FILE));
  }
  if (running) {
    TRY(os::pidfdSignal(running->second, SIGTERM));
    if (!detail::waitPidfd(running->second, 5000)) (void)os::pidfdSignal(running->second, SIGKILL);
  }
  return fs::removeAll(dir);
}

Result<PodNamespaces> Containers::podNamespaces(const std::string& podId) {
  TRY(validatePodId(podId));
  std::string dir = podDir(podId);
  TRY_ASSIGN(auto running, pauseOf(dir));
  if (!running) return Error::make("pod '{}': not running (createPod first)", podId);
  std::string proc = "/proc/" + std::to_string(running->first) + "/ns/";
  PodNamespaces ns{proc + "ipc", proc + "uts", "", dir + "/shm", ""};
  if (fs::exists(dir + "/" + NET_FILE)) ns.net = proc + "net";
  if (fs::exists(dir + "/" + ADDRESSES_FILE)) ns.addressesFile = dir + "/" + ADDRESSES_FILE;
  return ns;
}

}  // namespace nucleo::agent
