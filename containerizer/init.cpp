// The container init: runs in the cloned child, single-threaded, and turns
// an InitPlan into a running container process. Order follows bubblewrap and
// runc: wait for the parent's maps and cgroup, join and unshare namespaces,
// build the rootfs, pivot, then rlimits, user, capabilities and seccomp last,
// and execve. It never logs; every failure goes back over the sync socket.

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "containerizer/hooks.hpp"
#include "containerizer/launch.hpp"
#include "containerizer/process_setup.hpp"
#include "containerizer/sync.hpp"
#include "linux/capabilities.hpp"
#include "linux/mount.hpp"
#include "linux/process.hpp"
#include "linux/rootfs.hpp"
#include "linux/scheduling.hpp"

namespace nucleo::containerizer {
namespace {

Status applySysctl(const std::map<std::string, std::string>& sysctl) {
  for (const auto& [key, value] : sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    TRY(fs::writeExisting(path, value).context("linux.sysctl {}", key));
  }
  return ok();
}

// A pid namespace only applies to children: unshare it and fork the process
// that becomes the container's pid 1; this one reports it and exits.
Status forkIntoPidNamespace(InitPlan& plan) {
  if (::unshare(CLONE_NEWPID) < 0) return Error::fromErrno("unshare pid namespace");
  pid_t init = ::fork();
  if (init < 0) return Error::fromErrno("fork the container init");
  if (init > 0) {
    (void)syncSend(plan.syncFd, SyncType::InitPid, init);
    ::_exit(0);
  }
  // No parent-death signal here: the parent is the process exiting now.
  // Should nucleo die during setup, the init still sees end-of-file on the
  // sync socket and fails.
  return ok();
}

Status setupNamespaces(InitPlan& plan) {
  // The user namespace first: the others are then joined with its rights.
  for (auto& join : plan.joins)
    if (join.flag == CLONE_NEWUSER) TRY(os::joinNamespace(join.fd, join.flag, join.path));
  for (auto& join : plan.joins)
    if (join.flag != CLONE_NEWUSER) TRY(os::joinNamespace(join.fd, join.flag, join.path));
  // In a new user namespace the init still has its host ids, which map to
  // nothing there: become the namespace's root (the maps are written now) so
  // that mounts and files are created as a mapped user.
  if (plan.rootfs.userNamespace) {
    if (::setresgid(0, 0, 0) < 0) return Error::fromErrno("setresgid 0 in the user namespace");
    if (::setresuid(0, 0, 0) < 0) return Error::fromErrno("setresuid 0 in the user namespace");
  }
  if (plan.unshareFlags && ::unshare(plan.unshareFlags) < 0)
    return Error::fromErrno(fmt::format("unshare namespaces {:#x}", plan.unshareFlags));
  if (plan.forkIntoPidNamespace) TRY(forkIntoPidNamespace(plan));
  const oci::Spec& spec = *plan.spec;
  if (plan.newUts) {
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0)
      return Error::fromErrno("sethostname \"" + spec.hostname + "\"");
    if (!spec.domainname.empty() &&
        ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0)
      return Error::fromErrno("setdomainname \"" + spec.domainname + "\"");
  }
  return applySysctl(spec.linux.sysctl);
}

// The parent moves the init into its cgroup while the init builds its
// rootfs: a cgroup v1 attach waits for an RCU grace period (~13 ms), which
// then overlaps the mount work instead of adding to it. CgroupReady may come
// before or between any other parent message.
Status expectMessage(InitPlan& plan, SyncType expected) {
  for (;;) {
    TRY_ASSIGN(SyncMessage m, syncRecv(plan.syncFd));
    if (m.type == SyncType::Error) return Error{m.code, m.text};
    if (m.type == SyncType::CgroupReady) {
      plan.inCgroup = true;
      if (expected == SyncType::CgroupReady) return ok();
      continue;
    }
    if (m.type != expected)
      return Error::make("sync: expected message {}, got {}", static_cast<int>(expected),
                         static_cast<int>(m.type));
    return ok();
  }
}

// Before anything that must happen inside the cgroup: a cgroup namespace,
// forking hooks (pids limit), and before the process may start.
Status ensureInCgroup(InitPlan& plan) {
  if (plan.inCgroup) return ok();
  return expectMessage(plan, SyncType::CgroupReady);
}

Result<std::string> readStateJson(int memfd) {
  if (memfd < 0) return std::string("{}");
  return fs::readFile("/proc/self/fd/" + std::to_string(memfd));
}

// Waits for `start`: opening the fifo for writing blocks until `start` opens
// it for reading. The fifo is reached through a directory fd taken before
// pivot_root, and closed before exec.
Status waitForStart(InitPlan& plan) {
  if (plan.stateDirFd < 0) return expectMessage(plan, SyncType::Start);
  ::close(plan.syncFd);
  plan.syncFd = -1;
  int fifo = ::openat(plan.stateDirFd, "exec.fifo", O_WRONLY | O_CLOEXEC);
  if (fifo < 0) return Error::fromErrno("open exec.fifo");
  (void)!::write(fifo, "0", 1);
  ::close(fifo);
  return ok();
}

Status finishProcess(InitPlan& plan) {
  const auto& process = plan.process;
  std::vector<int> keep;
  if (plan.syncFd >= 0) keep.push_back(plan.syncFd);
  TRY(os::closeFdsFrom(3 + plan.preserveFds, keep));
  TRY(enterCwd(process.cwd));
  // Labels take effect at execve, so they are written last but one.
  if (!plan.apparmorProfile.empty())
    TRY(fs::writeExisting("/proc/self/attr/apparmor/exec", "exec " + plan.apparmorProfile)
            .context("process.apparmorProfile"));
  if (!plan.selinuxLabel.empty())
    TRY(fs::writeExisting("/proc/self/attr/exec", plan.selinuxLabel).context("process.selinuxLabel"));
  return applyPrivileges(process, plan.seccomp);
}

Status setupContainer(InitPlan& plan) {
  if (!plan.cgroupTaskFds.empty()) {
    // The parent placed us: clone3 did the v2 part, this does v1.
    Status joined = os::Cgroup::joinSelf(plan.cgroupTaskFds);
    for (int fd : plan.cgroupTaskFds) ::close(fd);
    plan.cgroupTaskFds.clear();
    TRY(std::move(joined).context("cgroup '{}'", plan.rootfs.cgroupPath));
  }
  if (!plan.process.cpuAffinityInitial.empty())
    TRY(os::setCpuAffinity(plan.process.cpuAffinityInitial).context("process.execCPUAffinity.initial"));
  TRY(expectMessage(plan, SyncType::Go));
  const oci::Spec& spec = *plan.spec;
  const auto& hooks = spec.hooks;
  if (plan.unshareFlags || plan.forkIntoPidNamespace || !hooks.prestart.empty() ||
      !hooks.createRuntime.empty() ||
      !hooks.createContainer.empty())
    TRY(ensureInCgroup(plan));
  TRY(setupNamespaces(plan));
  if (!hooks.prestart.empty() || !hooks.createRuntime.empty()) {
    TRY(syncSend(plan.syncFd, SyncType::CreateRuntimeHooks));
    TRY(expectMessage(plan, SyncType::HooksDone));
  }
  TRY_ASSIGN(UniqueFd rootfd, os::prepareRootfs(plan.rootfs));
  if (plan.process.cwd != "/") {
    auto cwd = os::ensureMountTarget(rootfd.get(), plan.process.cwd, true);
    if (!cwd) return std::move(cwd).error().context("process.cwd");
  }
  if (!spec.hooks.createContainer.empty()) {
    TRY_ASSIGN(std::string state, readStateJson(plan.stateMemFd));
    TRY(runHooks(spec.hooks.createContainer, state, "createContainer"));
  }
  TRY(os::enterRootfs(plan.rootfs, rootfd.get()));
  rootfd.reset();
  TRY(os::finishRootfs(plan.rootfs));
  if (plan.process.terminal) TRY(setupConsole(plan.process, plan.consoleFd));
  TRY(applyProcessLimits(plan.process));
  return ensureInCgroup(plan);
}

}  // namespace

int initMain(InitPlan& plan) {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Keep other container processes out of /proc/1/{fd,exe} while the runtime
  // runs here; execve makes the process dumpable again.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  auto fail = [&](const Error& error) {
    if (plan.syncFd >= 0) {
      (void)syncSend(plan.syncFd, SyncType::Error, error.code, error.message);
    } else {
      std::string line = "nucleo: " + error.message + "\n";
      (void)!::write(2, line.data(), line.size());
    }
    return 127;
  };
  if (auto s = setupContainer(plan); !s) return fail(s.error());
  auto path = resolveExecutable(plan.process);
  if (!path) return fail(path.error());
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (auto s = syncSend(plan.syncFd, SyncType::Ready); !s) return fail(s.error());
  if (auto s = waitForStart(plan); !s) return fail(s.error());
  if (!plan.spec->hooks.startContainer.empty()) {
    auto state = readStateJson(plan.stateMemFd);
    if (!state) return fail(state.error());
    if (auto s = runHooks(plan.spec->hooks.startContainer, *state, "startContainer"); !s)
      return fail(s.error());
  }
  if (plan.stateDirFd >= 0) ::close(plan.stateDirFd);
  if (plan.stateMemFd >= 0) ::close(plan.stateMemFd);
  if (auto s = finishProcess(plan); !s) return fail(s.error());
  auto argv = pointers(plan.process.args);
  auto envp = pointers(plan.process.env);
  ::execve(path->c_str(), argv.data(), envp.data());
  return fail(Error::fromErrno("exec \"" + *path + "\""));
}

}  // namespace nucleo::containerizer
