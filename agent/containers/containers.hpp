#pragma once
// Containers for the agent's executors and tasks (Mesos's "containerizer"):
// turns a TaskInfo/ExecutorInfo into an OCI bundle (an image from the image
// store, or the host's filesystem), runs it through the nucleo runtime under a
// per-container supervisor process (`nucleo-supervisor`, conmon-like: it holds
// the exit status and the log pipes, so the agent can die and come back), and
// finds the containers again after the agent restarts.
//
// Synchronous API: every call returns quickly (a launch returns once the
// container's process runs); the agent waits for exits by polling the fd from
// exitFd() in its event loop.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/containers/isolation.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "mesos/v1/mesos.pb.h"
#include "network/network.hpp"

namespace nucleo::agent {

struct PodNamespaces;
struct SpecContext;

struct ContainersOptions {
  std::string workDir;         // <workDir>/containers/<id>/ holds bundle, state, exit status
  std::string runtimeBinary;   // the `nucleo` CLI used to create/start/kill/delete
  std::string supervisorBinary;  // `nucleo-supervisor`
  std::string imageStoreRoot;  // the image store `nucleo image` uses
  std::string cgroupParent = "/nucleo-agent";
  // The sandbox as seen inside a container (Mesos: /mnt/mesos/sandbox).
  std::string sandboxMountPoint = "/mnt/mesos/sandbox";
  size_t maxLogBytes = 10 << 20;  // stdout/stderr each rotate past this (one .1 kept)
  // Networks of containers whose ContainerInfo.network_infos ask for one
  // (task_network.hpp): the bridge, and where CNI lists and plugins are.
  network::BridgeConfig bridge;
  network::CniConfig cni;
  // What containers get (--isolation): limits, namespaces, images, networks.
  Isolation isolation = Isolation::all();
};

struct ContainerLaunch {
  std::string containerId;  // [A-Za-z0-9_.-]{1,128}, unique on this agent
  std::string sandbox;      // existing host directory; mounted read-write
  mesos::v1::CommandInfo command;                 // shell or argv form; env; user
  std::optional<mesos::v1::ContainerInfo> container;  // image, linux_info; none: host fs
  std::vector<mesos::v1::Resource> resources;     // cpus, mem -> cgroup limits
  std::map<std::string, std::string> environment;  // MESOS_* etc., set by the agent
  std::optional<std::string> podId;  // join this pod's network, IPC and UTS namespaces
  std::optional<std::string> workingDir;  // default: the sandbox mount point
};

enum class ContainerPhase { Running, Exited };

struct ContainerExit {
  int waitStatus = 0;        // as from waitpid(2)
  bool oomKilled = false;    // the cgroup's OOM killer killed a process of it
  bool killedByRequest = false;  // kill() was called before it exited
  // Why there is no real status: when the supervisor died without recording
  // the exit, this says so and waitStatus reads as killed by SIGKILL.
  std::string message;
};

struct ContainerInfoOnDisk {
  std::string containerId;
  ContainerPhase phase = ContainerPhase::Running;
  pid_t pid = 0;  // the container's init, as seen from the host
  std::optional<ContainerExit> exit;
};

class Containers {
 public:
  explicit Containers(ContainersOptions options);

  // Creates the pod's shared IPC and UTS namespaces, and with ownNetwork a
  // network namespace with only loopback up (otherwise the pod uses the
  // host's network), held by a supervisor in pause mode; the pod's hostname is
  // its id (up to 63 characters). Idempotent per podId.
  Status createPod(const std::string& podId, bool ownNetwork = false);
  // The same with the network `container`'s network_infos ask for (see
  // task_network.hpp; none given: the host's), attached to the pod's
  // namespace before any task joins it and detached by destroyPod. A failure
  // leaves no pod, link, lease or rule.
  Status createPod(const std::string& podId, const std::optional<mesos::v1::ContainerInfo>& container);
  Status destroyPod(const std::string& podId);

  // Prepares the bundle, starts the supervisor, which creates and starts the
  // container; returns the container's init pid once it runs. A failure
  // (unknown image, bad command...) leaves nothing behind and says why.
  Result<pid_t> launch(const ContainerLaunch& launch);

  // An fd that becomes readable when the container's supervisor has recorded
  // its exit (a pidfd of the supervisor); valid after launch() or recover().
  Result<UniqueFd> exitFd(const std::string& containerId);

  // The recorded exit, or nullopt while it still runs.
  Result<std::optional<ContainerExit>> exitOf(const std::string& containerId);

  // SIGTERM to the container's processes, SIGKILL after `grace` (the
  // supervisor does it, so the kill completes even if the agent dies).
  Status kill(const std::string& containerId, std::chrono::milliseconds grace);

  // Kills what is left, deletes the runtime state, cgroup and bundle; keeps
  // the sandbox. Idempotent.
  Status destroy(const std::string& containerId);

  // The IPv4 addresses (no prefix) of the container's network as set up at
  // launch; empty on the host's network. Error for an unknown container.
  Result<std::vector<std::string>> ipAddresses(const std::string& containerId);

  // Every container under workDir, with its phase: after an agent restart.
  Result<std::vector<ContainerInfoOnDisk>> recover();

  // cgroup statistics of a running container (cpu, memory, pids).
  struct Usage {
    double cpuSeconds = 0;
    uint64_t memoryBytes = 0;
    uint64_t memoryLimitBytes = 0;
    uint64_t processes = 0;
  };
  Result<Usage> usage(const std::string& containerId);

  // `command` wrapped in `nucleo exec` into the container: same shell or argv
  // form, its environment passed with --env. The container must be running.
  mesos::v1::CommandInfo execCommand(const std::string& containerId,
                                     const mesos::v1::CommandInfo& command) const;

 private:
  std::string containerDir(const std::string& id) const;
  std::string podDir(const std::string& podId) const;
  std::string runtimeRoot() const;
  Result<pid_t> launchIn(const ContainerLaunch& launch, const std::string& dir);
  // A pidfd of the container's supervisor while it runs; nullopt when gone.
  Result<std::optional<UniqueFd>> supervisorOf(const std::string& id);
  Result<ContainerExit> recordLostExit(const std::string& id);
  Status killCgroup(const std::string& cgroup);
  Result<PodNamespaces> podNamespaces(const std::string& podId);
  std::vector<std::string> networkCreateArgs() const;
  Status attachPod(const std::string& podId, const std::string& mode, const std::vector<std::string>& publish);
  Status recordAddresses(const std::string& id, const SpecContext& context);

  ContainersOptions options_;
};

}  // namespace nucleo::agent
