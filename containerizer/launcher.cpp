// The parent half of launching a container init.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fs.hpp"
#include "base/logging.hpp"
#include "containerizer/hooks.hpp"
#include "containerizer/launch.hpp"
#include "containerizer/sync.hpp"
#include "linux/process.hpp"
#include "oci/state.hpp"

namespace nucleo::containerizer {
namespace {

struct NamespaceSetup {
  int cloneFlags = 0;
  bool forkIntoPidNamespace = false;
  int unshareFlags = 0;
  std::vector<NamespaceJoin> joins;
  std::optional<NamespaceJoin> pidJoin, timeJoin;
};

Result<NamespaceSetup> planNamespaces(const oci::Spec& spec) {
  NamespaceSetup out;
  for (const auto& ns : spec.linux.namespaces) {
    int flag = oci::namespaceCloneFlag(ns.type);
    if (ns.path.empty()) {
      // A cgroup namespace is made after the init sits in its cgroup, so
      // that the cgroup is its root.
      (flag == CLONE_NEWCGROUP ? out.unshareFlags : out.cloneFlags) |= flag;
      continue;
    }
    auto fd = os::openNamespace(ns.path, flag);
    if (!fd) return std::move(fd).error().context("linux.namespaces ({})", ns.type);
    NamespaceJoin join{flag, ns.path, std::move(*fd)};
    if (flag == CLONE_NEWPID)
      out.pidJoin = std::move(join);
    else if (flag == CLONE_NEWTIME)
      out.timeJoin = std::move(join);
    else
      out.joins.push_back(std::move(join));
  }
  if (!spec.linux.hasNamespace("mount"))
    return Error::make("linux.namespaces: a mount namespace is required");
  // Joining a user namespace: new namespaces must belong to it, so the init
  // creates them after it has joined (unshare), and a new pid namespace takes
  // one more fork (runc's nsexec does the same).
  bool joinsUser = std::any_of(out.joins.begin(), out.joins.end(),
                               [](const NamespaceJoin& j) { return j.flag == CLONE_NEWUSER; });
  if (joinsUser) {
    out.unshareFlags |= out.cloneFlags & ~(CLONE_NEWPID | CLONE_NEWTIME);
    out.forkIntoPidNamespace = out.cloneFlags & CLONE_NEWPID;
    out.cloneFlags &= CLONE_NEWTIME;
  }
  return out;
}

// The pid and time namespaces apply to children: the parent switches its
// pid_for_children/time_for_children around the clone and back.
class ChildNamespaceSwitch {
 public:
  Status enter(NamespaceSetup& ns, const oci::Spec& spec) {
    if (ns.pidJoin) {
      TRY_ASSIGN(ownPid_, os::openNamespace("/proc/self/ns/pid", CLONE_NEWPID));
      TRY(os::joinNamespace(ns.pidJoin->fd, CLONE_NEWPID, ns.pidJoin->path));
    }
    if (ns.timeJoin || (ns.cloneFlags & CLONE_NEWTIME)) {
      TRY_ASSIGN(ownTime_, os::openNamespace("/proc/self/ns/time", CLONE_NEWTIME));
      if (ns.timeJoin) {
        TRY(os::joinNamespace(ns.timeJoin->fd, CLONE_NEWTIME, ns.timeJoin->path));
      } else {
        if (::unshare(CLONE_NEWTIME) < 0) return Error::fromErrno("unshare time namespace");
        std::string offsets;
        for (const auto& [clock, off] : spec.linux.timeOffsets)
          offsets += fmt::format("{} {} {}\n", clock, off.secs, off.nanosecs);
        if (!offsets.empty())
          TRY(fs::writeExisting("/proc/self/timens_offsets", offsets).context("linux.timeOffsets"));
        ns.cloneFlags &= ~CLONE_NEWTIME;
      }
    }
    return ok();
  }
  ~ChildNamespaceSwitch() {
    if (ownPid_) (void)os::joinNamespace(ownPid_, CLONE_NEWPID, "self");
    if (ownTime_) (void)os::joinNamespace(ownTime_, CLONE_NEWTIME, "self");
  }

 private:
  UniqueFd ownPid_, ownTime_;
};

void killInit(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string hookStateJson(const std::string& id, pid_t pid, const std::string& bundle,
                          const char* status, const oci::Spec& spec) {
  oci::State state;
  state.id = id;
  state.pid = pid;
  state.bundle = bundle;
  state.status = status;
  state.annotations = spec.annotations;
  return oci::toJson(state, false);
}

struct LaunchScope {
  std::optional<os::Cgroup> cgroup;
  pid_t pid = 0;
  bool committed = false;
  ~LaunchScope() {
    if (committed) return;
    if (pid > 0) killInit(pid);
    if (cgroup) (void)cgroup->destroy();
  }
};

static Status parentHandshake(const LaunchRequest& req, const oci::Spec& spec, InitPlan& plan,
                              Launched& out, int syncFd, os::Cgroup& cgroup, bool placed,
                              pid_t& scopePid) {
  const auto& uids = spec.linux.uidMappings;
  if (spec.linux.hasNamespace("user") && !spec.linux.findNamespace("user")->path.size()) {
    std::vector<os::IdMap> u, g;
    for (const auto& m : uids) u.push_back({m.containerID, m.hostID, m.size});
    for (const auto& m : spec.linux.gidMappings) g.push_back({m.containerID, m.hostID, m.size});
    TRY(os::writeIdMaps(out.pid, u, g, false));
  }
  if (plan.stateMemFd >= 0) {
    std::string json = hookStateJson(req.id, out.pid, req.bundle, "creating", spec);
    if (::pwrite(plan.stateMemFd, json.data(), json.size(), 0) < 0)
      return Error::fromErrno("write hook state");
  }
  TRY(syncSend(syncFd, SyncType::Go));
  Status sent;
  if (!placed) {
    TRY(cgroup.addProcess(out.pid));
    // An init that failed early has already sent its error: report that one
    // rather than the broken pipe.
    sent = syncSend(syncFd, SyncType::CgroupReady);
  }
  for (;;) {
    auto received = syncRecv(syncFd);
    if (!received) return sent ? std::move(received).error() : std::move(sent).error();
    SyncMessage& m = *received;
    if (m.type == SyncType::Error) return Error{m.code, m.text};
    if (!sent) return sent;
    if (m.type == SyncType::Ready) return ok();
    if (m.type == SyncType::InitPid) {
      // The intermediate child forked the init into the new pid namespace
      // and exits; the init is ours as subreaper.
      while (::waitpid(out.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      out.pid = scopePid = m.code;
      if (plan.stateMemFd >= 0) {
        std::string json = hookStateJson(req.id, out.pid, req.bundle, "creating", spec);
        (void)::ftruncate(plan.stateMemFd, 0);
        if (::pwrite(plan.stateMemFd, json.data(), json.size(), 0) < 0)
          return Error::fromErrno("write hook state");
      }
      continue;
    }
    if (m.type != SyncType::CreateRuntimeHooks) return Error::make("sync: unexpected message");
    std::string json = hookStateJson(req.id, out.pid, req.bundle, "creating", spec);
    TRY(runHooks(spec.hooks.prestart, json, "prestart"));
    TRY(runHooks(spec.hooks.createRuntime, json, "createRuntime"));
    TRY(syncSend(syncFd, SyncType::HooksDone));
  }
}

// AppArmor and SELinux labels are applied on exec where the host has the LSM
// (runc's behaviour); elsewhere they are skipped with a warning.
static Status planSecurityLabels(const oci::Process& process, InitPlan& plan) {
  auto enabled = [](const char* path) {
    auto text = fs::readFile(path);
    return text && !text->empty() && ((*text)[0] == 'Y' || (*text)[0] == '1');
  };
  if (!process.apparmorProfile.empty()) {
    if (enabled("/sys/module/apparmor/parameters/enabled"))
      plan.apparmorProfile = process.apparmorProfile;
    else
      logging::get("runtime")->warn("process.apparmorProfile \"{}\": AppArmor is not enabled on "
                                    "this host; skipped", process.apparmorProfile);
  }
  if (!process.selinuxLabel.empty()) {
    if (fs::exists("/sys/fs/selinux/enforce"))  // present whenever SELinux is on
      plan.selinuxLabel = process.selinuxLabel;
    else
      logging::get("runtime")->warn("process.selinuxLabel \"{}\": SELinux is not enabled on this "
                                    "host; skipped", process.selinuxLabel);
  }
  return ok();
}

static Result<InitPlan> buildPlan(const LaunchRequest& req, const oci::Spec& spec) {
  InitPlan plan;
  plan.id = req.id;
  if (!spec.process) return Error::make("process: required to create a container");
  TRY_ASSIGN(plan.process, isolator::planProcess(*spec.process));
  TRY_ASSIGN(plan.rootfs, isolator::planRootfs(spec, req.bundle, req.noPivot));
  if (spec.linux.seccomp) {
    TRY_ASSIGN(os::SeccompProfile profile, isolator::planSeccomp(*spec.linux.seccomp));
    TRY_ASSIGN(plan.seccomp, os::compileSeccompCached(profile, req.seccompCacheDir));
  }
  if (spec.process->terminal && req.consoleSocket.empty() && !req.ownTerminal)
    return Error::make("process.terminal: a terminal needs --console-socket");
  TRY(planSecurityLabels(*spec.process, plan));
  plan.newUts = spec.linux.hasNamespace("uts") && spec.linux.findNamespace("uts")->path.empty();
  plan.preserveFds = req.preserveFds;
  return plan;
}

Result<Launched> launchContainer(const LaunchRequest& req) {
  Launched out;
  TRY_ASSIGN(out.spec, oci::loadSpec(req.bundle));
  if (req.hostNetwork) std::erase_if(out.spec.linux.namespaces, [](const oci::Namespace& n) {
    return n.type == "network" && n.path.empty();
  });
  const oci::Spec& spec = out.spec;
  TRY_ASSIGN(InitPlan plan, buildPlan(req, spec));
  plan.spec = &spec;
  TRY_ASSIGN(NamespaceSetup ns, planNamespaces(spec));
  plan.unshareFlags = ns.unshareFlags;
  plan.forkIntoPidNamespace = ns.forkIntoPidNamespace;
  plan.joins = std::move(ns.joins);

  LaunchScope scope;
  TRY_ASSIGN(os::CgroupLayout layout, os::CgroupLayout::detect());
  TRY_ASSIGN(out.cgroupPath, isolator::planCgroupPath(spec, req.id, req.cgroupParent));
  plan.rootfs.cgroupPath = out.cgroupPath;
  TRY_ASSIGN(scope.cgroup, os::Cgroup::create(layout, out.cgroupPath));
  if (spec.linux.resources)
    TRY(scope.cgroup->apply(isolator::planCgroupLimits(*spec.linux.resources, spec.linux.devices)));
  // The init enters its cgroup by itself (clone3 into the v2 part, "0" into
  // each v1 `tasks` file) rather than by the parent writing its pid: that
  // skips an RCU grace period per launch. A user namespace keeps the attach
  // by pid, so that no permission inside the namespace is needed.
  UniqueFd cgroupFd;
  std::vector<UniqueFd> selfTasks;
  bool placed = false;
  if (layout.mode == os::CgroupLayout::Mode::Unified || !spec.linux.hasNamespace("user")) {
    TRY_ASSIGN(auto placement, scope.cgroup->childPlacement());
    cgroupFd = std::move(placement.cloneInto);
    selfTasks = std::move(placement.selfTasks);
    placed = true;
  }
  for (const auto& fd : selfTasks) plan.cgroupTaskFds.push_back(fd.get());
  plan.inCgroup = placed;  // the init joins before anything else; no CgroupReady comes

  TRY_ASSIGN(auto sync, makeSocketPair(SOCK_SEQPACKET));
  plan.syncFd = sync.second.get();
  UniqueFd stateDir, console, stateMem;
  if (req.useFifo) {
    std::string fifo = req.stateDir + "/exec.fifo";
    if (::mkfifo(fifo.c_str(), 0600) < 0) return Error::fromErrno("mkfifo '" + fifo + "'");
    TRY_ASSIGN(stateDir, UniqueFd::open(req.stateDir, O_PATH | O_DIRECTORY));
    plan.stateDirFd = stateDir.get();
  }
  UniqueFd ownConsoleEnd;
  if (spec.process->terminal) {
    if (req.ownTerminal) {
      TRY_ASSIGN(auto pair, makeSocketPair(SOCK_STREAM));
      ownConsoleEnd = std::move(pair.first);
      console = std::move(pair.second);
    } else {
      TRY_ASSIGN(console, connectConsole(req.consoleSocket));
    }
    plan.consoleFd = console.get();
  }
  const auto& hooks = spec.hooks;
  if (!hooks.createContainer.empty() || !hooks.startContainer.empty()) {
    int fd = ::memfd_create("nucleo-state", MFD_CLOEXEC);
    if (fd < 0) return Error::fromErrno("memfd_create");
    stateMem.reset(fd);
    plan.stateMemFd = fd;
  }

  // The init of a double fork is re-parented to us when its parent exits.
  if (ns.forkIntoPidNamespace && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return Error::fromErrno("become child subreaper");
  {
    ChildNamespaceSwitch nsSwitch;
    TRY(nsSwitch.enter(ns, spec));
    os::CloneOptions clone{ns.cloneFlags, cgroupFd.get(), SIGCHLD};
    TRY_ASSIGN(scope.pid, os::cloneProcess(clone, [&] {
      sync.first.reset();
      return initMain(plan);
    }));
  }
  out.pid = scope.pid;
  selfTasks.clear();
  sync.second.reset();
  console.reset();
  TRY(parentHandshake(req, spec, plan, out, sync.first.get(), *scope.cgroup, placed,
                      scope.pid));
  if (ownConsoleEnd) {
    TRY_ASSIGN(int master, receiveFd(ownConsoleEnd.get()));
    out.ptyMaster.reset(master);
  }
  TRY_ASSIGN(out.startTime, os::processStartTime(out.pid));
  if (stateMem) {
    std::string json = hookStateJson(req.id, out.pid, req.bundle, "created", spec);
    (void)::ftruncate(stateMem.get(), 0);
    (void)!::pwrite(stateMem.get(), json.data(), json.size(), 0);
  }
  out.syncFd = std::move(sync.first);
  out.cgroup = std::move(scope.cgroup);
  scope.committed = true;
  return out;
}

}  // namespace nucleo::containerizer
