#pragma once
// Launching a container init: the parent prepares everything that can fail
// (config, plans, seccomp BPF, cgroup) before clone, so that the child only
// carries out the plan in bubblewrap's order and reports errors back.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "isolator/plan.hpp"
#include "linux/cgroup.hpp"
#include "linux/seccomp.hpp"
#include "oci/spec.hpp"

namespace nucleo::containerizer {

struct NamespaceJoin {
  int flag = 0;
  std::string path;
  UniqueFd fd;
};

// What the init needs, prepared by the parent; the child reads it from its
// copy of the parent's memory.
struct InitPlan {
  std::string id;
  const oci::Spec* spec = nullptr;
  isolator::ProcessPlan process;
  os::RootfsPlan rootfs;
  std::optional<os::SeccompProgram> seccomp;
  std::vector<NamespaceJoin> joins;  // joined by the init (not pid/time)
  int unshareFlags = 0;              // unshared by the init after it is in its cgroup
  bool forkIntoPidNamespace = false; // unshare a pid namespace and fork the real init
  bool newUts = false;
  int syncFd = -1;
  bool inCgroup = false;   // CgroupReady received, or joined by itself
  std::vector<int> cgroupTaskFds;  // v1 `tasks` files the init joins itself (Cgroup::joinSelf)
  int stateDirFd = -1;     // `create`: exec.fifo lives here; -1 for `run`
  int consoleFd = -1;      // console socket to send the pty master to
  int stateMemFd = -1;     // state JSON for hooks run by the init
  int preserveFds = 0;     // fds 3.. passed to the process (--preserve-fds)
  std::string apparmorProfile, selinuxLabel;  // set only where the LSM is on
};

// The init's body; returns the exit status for the child only on failure.
int initMain(InitPlan& plan);

struct LaunchRequest {
  std::string id;
  std::string bundle;  // absolute
  std::string stateDir;
  std::string seccompCacheDir;
  std::string cgroupParent = "/nucleo";
  bool noPivot = false;
  bool useFifo = true;        // create/start; `run` releases the init over sync
  std::string consoleSocket;  // path (create/run --detach with a terminal)
  bool ownTerminal = false;   // foreground `run` with a terminal: we get the master
  int preserveFds = 0;
  bool hostNetwork = false;   // --network host: no new network namespace, whatever the config says
};

struct Launched {
  pid_t pid = 0;
  uint64_t startTime = 0;
  std::string cgroupPath;
  UniqueFd syncFd;     // `run`: send Start, then EOF means exec'd
  UniqueFd ptyMaster;  // ownTerminal: the container's terminal
  oci::Spec spec;
  std::optional<os::Cgroup> cgroup;
};

// Parses the bundle, builds the plans and the cgroup, clones the init and
// waits until it is ready for `start`. On error nothing is left: no process,
// no cgroup, no fifo.
Result<Launched> launchContainer(const LaunchRequest& request);

// Rebuilds the oci state JSON hooks see.
std::string hookStateJson(const std::string& id, pid_t pid, const std::string& bundle,
                          const char* status, const oci::Spec& spec);

}  // namespace nucleo::containerizer
