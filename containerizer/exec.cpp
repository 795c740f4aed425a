// `exec`: a new process inside a running container. It joins every namespace
// of the container's init and its cgroup, and gets the container's seccomp
// profile and (unless overridden) its capabilities, user, env and cwd.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "containerizer/foreground.hpp"
#include "containerizer/launch.hpp"
#include "containerizer/process_setup.hpp"
#include "containerizer/runtime.hpp"
#include "containerizer/sync.hpp"
#include "linux/cgroup.hpp"
#include "linux/process.hpp"

namespace nucleo::containerizer {
namespace {

Result<oci::Process> execProcess(const ExecOptions& o, const oci::Spec& spec) {
  if (o.process) return *o.process;
  if (o.args.empty()) return Error::make("exec: a command to run is required");
  oci::Process p = spec.process ? *spec.process : oci::Process{};
  p.args = o.args;
  p.terminal = o.tty;
  p.consoleSize.reset();
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos)
      return Error::make("--env: \"{}\" is not KEY=VALUE", e);
    p.env.push_back(e);
  }
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    auto parts = strings::split(o.user, ':');
    auto uid = strings::toUint(parts[0]);
    auto gid = parts.size() > 1 ? strings::toUint(parts[1]) : std::optional<uint64_t>(0);
    if (!uid || !gid || parts.size() > 2)
      return Error::make("--user: \"{}\" is not UID[:GID]", o.user);
    p.user.uid = static_cast<uint32_t>(*uid);
    p.user.gid = static_cast<uint32_t>(*gid);
    p.user.additionalGids.clear();
  }
  if (!o.capabilities.empty()) {
    if (!p.capabilities) p.capabilities = oci::Capabilities{};
    for (const auto& cap : o.capabilities)
      for (auto* set : {&p.capabilities->bounding, &p.capabilities->effective,
                        &p.capabilities->permitted, &p.capabilities->inheritable})
        set->push_back(cap);
  }
  if (o.noNewPrivs) p.noNewPrivileges = true;
  return p;
}

struct ExecJoin {
  int flag;
  UniqueFd fd;
};

// Every namespace of the init that differs from ours, the user one first.
Result<std::vector<ExecJoin>> containerNamespaces(pid_t pid) {
  std::vector<ExecJoin> out;
  for (int flag : {CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID,
                   CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS}) {
    std::string name = os::namespaceProcName(flag);
    if (flag == CLONE_NEWTIME && !fs::exists("/proc/self/ns/time")) continue;
    struct stat theirs, ours;
    std::string path = fmt::format("/proc/{}/ns/{}", pid, name);
    if (::stat(path.c_str(), &theirs) < 0) return Error::fromErrno("stat " + path);
    if (::stat(("/proc/self/ns/" + name).c_str(), &ours) == 0 && ours.st_ino == theirs.st_ino)
      continue;
    TRY_ASSIGN(UniqueFd fd, os::openNamespace(path, flag));
    out.push_back({flag, std::move(fd)});
  }
  return out;
}

int execChild(std::vector<ExecJoin>& joins, std::vector<UniqueFd>& cgroupTasks,
              isolator::ProcessPlan& process, const std::optional<os::SeccompProgram>& seccomp,
              int syncFd, int consoleFd, int preserveFds) {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto run = [&]() -> Status {
    // Into the container's v1 cgroups by ourselves, still as the host's
    // root and single-threaded (see Cgroup::childPlacement).
    std::vector<int> tasks;
    for (const auto& fd : cgroupTasks) tasks.push_back(fd.get());
    TRY(os::Cgroup::joinSelf(tasks));
    cgroupTasks.clear();
    TRY(syncExpect(syncFd, SyncType::Go));
    for (auto& join : joins)
      if (join.flag != CLONE_NEWPID) TRY(os::joinNamespace(join.fd, join.flag, "of the container"));
    joins.clear();
    if (process.terminal) TRY(setupConsole(process, consoleFd));
    TRY_ASSIGN(std::string path, resolveExecutable(process));
    TRY(applyProcessLimits(process));
    TRY(os::closeFdsFrom(3 + preserveFds, {syncFd}));
    TRY(enterCwd(process.cwd));
    TRY(applyPrivileges(process, seccomp));
    auto argv = pointers(process.args);
    auto envp = pointers(process.env);
    ::execve(path.c_str(), argv.data(), envp.data());
    return Error::fromErrno("exec \"" + path + "\"");
  };
  Status status = run();
  (void)syncSend(syncFd, SyncType::Error, status.error().code, status.error().message);
  return 127;
}

}  // namespace

Result<int> Runtime::exec(const ExecOptions& o) {
  TRY_ASSIGN(ContainerRecord record, store_.load(o.id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status != ContainerStatus::Running && status != ContainerStatus::Created)
    return Error::make("cannot exec in container \"{}\": it is {}", o.id, statusName(status));
  TRY_ASSIGN(oci::Spec spec, oci::loadSpec(record.bundle));
  TRY_ASSIGN(oci::Process process, execProcess(o, spec));
  TRY_ASSIGN(isolator::ProcessPlan plan, isolator::planProcess(process));
  std::optional<os::SeccompProgram> seccomp;
  if (spec.linux.seccomp) {
    TRY_ASSIGN(os::SeccompProfile profile, isolator::planSeccomp(*spec.linux.seccomp));
    TRY_ASSIGN(seccomp, os::compileSeccompCached(profile, store_.root() + "/.seccomp"));
  }
  if (plan.terminal && o.consoleSocket.empty() && o.detach)
    return Error::make("--tty with --detach needs --console-socket");
  TRY_ASSIGN(auto joins, containerNamespaces(record.pid));
  TRY_ASSIGN(os::CgroupLayout layout, os::CgroupLayout::detect());
  TRY_ASSIGN(os::Cgroup cgroup, os::Cgroup::open(layout, record.cgroupPath));
  TRY_ASSIGN(auto sync, makeSocketPair(SOCK_SEQPACKET));
  UniqueFd console, ownConsole;
  if (plan.terminal) {
    if (o.consoleSocket.empty()) {
      TRY_ASSIGN(auto pair, makeSocketPair(SOCK_STREAM));
      ownConsole = std::move(pair.first);
      console = std::move(pair.second);
    } else {
      TRY_ASSIGN(console, connectConsole(o.consoleSocket));
    }
  }
  if (!o.detach) blockForwardedSignals();
  // The pid namespace applies to children: enter it around the clone.
  UniqueFd ownPid;
  for (auto& join : joins)
    if (join.flag == CLONE_NEWPID) {
      TRY_ASSIGN(ownPid, os::openNamespace("/proc/self/ns/pid", CLONE_NEWPID));
      TRY(os::joinNamespace(join.fd, CLONE_NEWPID, "of the container"));
    }
  TRY_ASSIGN(auto placement, cgroup.childPlacement());
  auto pid = os::cloneProcess({0, placement.cloneInto.get(), SIGCHLD}, [&] {
    sync.first.reset();
    return execChild(joins, placement.selfTasks, plan, seccomp, sync.second.get(), console.get(),
                     o.preserveFds);
  });
  placement = {};
  if (ownPid) TRY(os::joinNamespace(ownPid, CLONE_NEWPID, "of nucleo"));
  if (!pid) return std::move(pid).error();
  sync.second.reset();
  console.reset();
  auto setup = [&]() -> Status {
    TRY(syncSend(sync.first.get(), SyncType::Go));
    auto reply = syncRecv(sync.first.get());
    if (reply && reply->type == SyncType::Error) return Error{reply->code, reply->text};
    if (!o.pidFile.empty()) TRY(fs::writeFileAtomic(o.pidFile, std::to_string(*pid)));
    return ok();
  };
  if (auto s = setup(); !s) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    return std::move(s).error().context("exec in container \"{}\"", o.id);
  }
  UniqueFd master;
  if (ownConsole) {
    TRY_ASSIGN(int fd, receiveFd(ownConsole.get()));
    master.reset(fd);
  }
  if (o.detach) return 0;
  return waitForeground(*pid, master.get());
}

}  // namespace nucleo::containerizer
