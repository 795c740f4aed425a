#pragma once
// The runtime's operations, one per runc command. The CLI parses flags and
// prints; everything a container goes through happens here.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "containerizer/container_network.hpp"
#include "containerizer/state_store.hpp"
#include "linux/cgroup.hpp"
#include "linux/cgroup_stats.hpp"
#include "oci/spec.hpp"
#include "oci/state.hpp"

namespace nucleo::containerizer {

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pidFile;
  std::string consoleSocket;
  bool noPivot = false;
  bool noNewKeyring = false;
  int preserveFds = 0;
  NetworkOptions network;  // set up between create and start (container_network.hpp)
};

struct ExecOptions {
  std::string id;
  std::optional<oci::Process> process;  // --process file, or built from flags
  std::vector<std::string> args, env;
  std::string cwd, user;
  std::vector<std::string> capabilities;  // --cap, added to the container's
  bool tty = false, detach = false, noNewPrivs = false;
  std::string pidFile, consoleSocket;
  int preserveFds = 0;
};

struct ContainerSummary {
  ContainerRecord record;
  ContainerStatus status;
};

// What `events` reports: "stats" (with stats) or "oom".
struct ContainerEvent {
  std::string type;
  std::optional<os::CgroupStats> stats;
};

class Runtime {
 public:
  // `cgroupParent`: where containers' cgroups go unless linux.cgroupsPath
  // is absolute.
  explicit Runtime(std::string root, std::string cgroupParent = "/nucleo");

  Status create(const CreateOptions& options);
  // Create, start, wait (unless detach) and delete; the exit status is the
  // process's, or 128+N when signal N killed it.
  Result<int> run(const CreateOptions& options, bool detach);
  Status start(const std::string& id);
  Result<oci::State> state(const std::string& id);
  Status kill(const std::string& id, int signal, bool all);
  Status remove(const std::string& id, bool force);
  Result<std::vector<ContainerSummary>> list();
  Status pause(const std::string& id);
  Status resume(const std::string& id);
  Result<std::vector<pid_t>> pids(const std::string& id);
  Result<int> exec(const ExecOptions& options);
  // cgroup_ops.cpp. Changes the limits of a created, running or paused
  // container; all-or-nothing: a failed update leaves the old limits.
  Status update(const std::string& id, const os::CgroupLimits& limits);
  // One reading of every statistic of the container's cgroup.
  Result<os::CgroupStats> stats(const std::string& id);
  // Calls sink with stats every interval and with each OOM kill until the
  // container stops (then returns ok) or sink returns false.
  Status events(const std::string& id, std::chrono::milliseconds interval,
                const std::function<bool(const ContainerEvent&)>& sink);

 private:
  Result<ContainerStatus> statusOf(const ContainerRecord& record);
  // Poststop hooks, the cgroup (killing what is left in it) and the state.
  // `spec` and `cgroup` save reloading them when the caller has them.
  // A network that cannot be torn down keeps the record (so that `delete` can
  // be retried) unless `force`.
  Status cleanup(const ContainerRecord& record, const oci::Spec* spec = nullptr,
                 os::Cgroup* cgroup = nullptr, bool force = false);

  StateStore store_;
  std::string cgroupParent_;
};

}  // namespace nucleo::containerizer
