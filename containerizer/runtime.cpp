#include "containerizer/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <ctime>
#include <thread>

#include "base/fs.hpp"
#include "base/logging.hpp"
#include "containerizer/container_network.hpp"
#include "containerizer/foreground.hpp"
#include "containerizer/hooks.hpp"
#include "containerizer/launch.hpp"
#include "containerizer/sync.hpp"
#include "linux/cgroup.hpp"
#include "linux/process.hpp"
#include "network/network.hpp"

namespace nucleo::containerizer {
namespace {

std::string nowRfc3339() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

std::string ownerName() {
  struct passwd* pw = ::getpwuid(::getuid());
  return pw ? pw->pw_name : std::to_string(::getuid());
}

Result<std::string> absoluteBundle(const std::string& bundle) {
  char buf[PATH_MAX];
  if (!::realpath(bundle.c_str(), buf)) return Error::fromErrno("bundle '" + bundle + "'");
  return std::string(buf);
}

Result<os::Cgroup> openCgroup(const ContainerRecord& record) {
  TRY_ASSIGN(os::CgroupLayout layout, os::CgroupLayout::detect());
  return os::Cgroup::open(layout, record.cgroupPath);
}

// Waits until the process is gone (or a zombie nobody reaped yet).
bool waitGone(pid_t pid, uint64_t startTime, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto state = os::processState(pid);
    auto start = os::processStartTime(pid);
    if (!state || *state == 'Z' || *state == 'X' || !start || *start != startTime) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

void warnIfFailed(const nucleo::Status& status) {
  if (!status) logging::get("runtime")->warn("{}", status.error().message);
}

struct Reservation {
  const StateStore& store;
  std::string id;
  bool committed = false;
  ~Reservation() {
    if (!committed) (void)store.remove(id);
  }
};

}  // namespace

Runtime::Runtime(std::string root, std::string cgroupParent)
    : store_(std::move(root)), cgroupParent_(std::move(cgroupParent)) {}

// Sets up the network of a launched container (its namespace is the init's);
// returns the attachment JSON for the record, "" when there is none.
static Result<std::string> attachNetwork(const StateStore& store, const CreateOptions& options,
                                         const Launched& launched) {
  TRY_ASSIGN(auto request, networkRequest(options.network, launched.spec, store.dir(options.id)));
  if (!request) return std::string();
  std::string netns = fmt::format("/proc/{}/ns/net", launched.pid);
  TRY_ASSIGN(network::Attachment attachment, network::attach(options.id, netns, *request));
  logging::get("runtime")->debug("container_id={} network={} ips={}", options.id,
                                 network::modeName(attachment.mode), fmt::join(attachment.ips, ","));
  return attachment.toJson();
}

static void detachNetwork(const std::string& json, const std::string& netns) {
  if (json.empty()) return;
  auto attachment = network::Attachment::fromJson(json);
  if (attachment) warnIfFailed(network::detach(*attachment, netns));
}

static Result<Launched> launchAndRecord(const StateStore& store, const CreateOptions& options,
                                        const std::string& cgroupParent, bool useFifo,
                                        bool ownTerminal) {
  TRY(validateNetworkOptions(options.network));
  LaunchRequest req;
  req.id = options.id;
  TRY_ASSIGN(req.bundle, absoluteBundle(options.bundle));
  req.stateDir = store.dir(options.id);
  req.seccompCacheDir = store.root() + "/.seccomp";
  req.cgroupParent = cgroupParent;
  req.noPivot = options.noPivot;
  req.useFifo = useFifo;
  req.consoleSocket = options.consoleSocket;
  req.ownTerminal = ownTerminal;
  req.preserveFds = options.preserveFds;
  req.hostNetwork = options.network.mode == "host";
  TRY_ASSIGN(Launched launched, launchContainer(req));
  ContainerRecord record;
  record.id = options.id;
  record.bundle = req.bundle;
  record.rootfs = launched.spec.rootPath[0] == '/' ? launched.spec.rootPath
                                                   : req.bundle + "/" + launched.spec.rootPath;
  record.pid = launched.pid;
  record.startTime = launched.startTime;
  record.cgroupPath = launched.cgroupPath;
  record.created = nowRfc3339();
  record.owner = ownerName();
  record.annotations = launched.spec.annotations;
  auto attached = attachNetwork(store, options, launched);
  Status saved = attached ? Status() : Status(std::move(attached).error());
  if (saved) {
    record.network = *attached;
    saved = store.save(record);
  }
  if (saved && !options.pidFile.empty())
    saved = fs::writeFileAtomic(options.pidFile, std::to_string(launched.pid), 0644,
                                 fs::Durability::Volatile);
  if (!saved) {
    if (attached) detachNetwork(*attached, fmt::format("/proc/{}/ns/net", launched.pid));
    ::kill(launched.pid, SIGKILL);
    if (auto cg = openCgroup(record)) (void)cg->destroy();
    return std::move(saved).error();
  }
  return launched;
}

Status Runtime::create(const CreateOptions& options) {
  TRY(store_.reserve(options.id));
  Reservation reservation{store_, options.id};
  TRY_ASSIGN(Launched launched, launchAndRecord(store_, options, cgroupParent_, true, false));
  reservation.committed = true;
  return ok();
}

Result<int> Runtime::run(const CreateOptions& options, bool detach) {
  TRY(store_.reserve(options.id));
  Reservation reservation{store_, options.id};
  blockForwardedSignals();
  bool ownTerminal = !detach && options.consoleSocket.empty();
  TRY_ASSIGN(Launched launched, launchAndRecord(store_, options, cgroupParent_, false, ownTerminal));
  TRY_ASSIGN(ContainerRecord record, store_.load(options.id));
  reservation.committed = true;
  auto started = syncSend(launched.syncFd.get(), SyncType::Start);
  // The init closes its end on a successful execve (close-on-exec) or sends
  // an Error first.
  if (started) {
    auto reply = syncRecv(launched.syncFd.get());
    if (reply && reply->type == SyncType::Error) started = Error{reply->code, reply->text};
  }
  launched.syncFd.reset();
  if (!started) {
    (void)remove(options.id, true);
    return std::move(started).error();
  }
  std::string json = hookStateJson(options.id, launched.pid, record.bundle, "running", launched.spec);
  warnIfFailed(runHooks(launched.spec.hooks.poststart, json, "poststart"));
  if (detach) return 0;
  auto status = waitForeground(launched.pid, launched.ptyMaster.get());
  auto removed = cleanup(record, &launched.spec, launched.cgroup ? &*launched.cgroup : nullptr);
  if (!status) return std::move(status).error();
  TRY(std::move(removed));
  return *status;
}

Status Runtime::start(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status != ContainerStatus::Created)
    return Error::make("cannot start container \"{}\": it is {}, not created", id, statusName(status));
  std::string fifoPath = store_.fifoPath(id);
  TRY_ASSIGN(UniqueFd fifo, UniqueFd::open(fifoPath, O_RDONLY | O_NONBLOCK));
  for (;;) {
    struct pollfd p = {fifo.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 100);
    char byte;
    if (n > 0 && ::read(fifo.get(), &byte, 1) == 1) break;
    if (n < 0 && errno != EINTR) return Error::fromErrno("poll exec.fifo");
    TRY_ASSIGN(ContainerStatus now, statusOf(record));
    if (now == ContainerStatus::Stopped) return Error::make("container \"{}\" init exited before start", id);
  }
  ::unlink(fifoPath.c_str());
  auto spec = oci::loadSpec(record.bundle);
  if (spec && !spec->hooks.poststart.empty())
    warnIfFailed(runHooks(spec->hooks.poststart,
                          hookStateJson(id, record.pid, record.bundle, "running", *spec),
                          "poststart"));
  return ok();
}

Result<ContainerStatus> Runtime::statusOf(const ContainerRecord& record) {
  if (record.pid <= 0) return ContainerStatus::Stopped;
  auto state = os::processState(record.pid);
  if (!state || *state == 'Z' || *state == 'X') return ContainerStatus::Stopped;
  auto start = os::processStartTime(record.pid);
  if (!start || *start != record.startTime) return ContainerStatus::Stopped;
  if (fs::exists(store_.fifoPath(record.id))) return ContainerStatus::Created;
  auto cgroup = openCgroup(record);
  if (cgroup) {
    auto frozen = cgroup->frozen();
    if (frozen && *frozen) return ContainerStatus::Paused;
  }
  return ContainerStatus::Running;
}

Result<oci::State> Runtime::state(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  oci::State s;
  s.id = id;
  s.status = statusName(status);
  s.pid = status == ContainerStatus::Stopped ? 0 : record.pid;
  s.bundle = record.bundle;
  s.annotations = record.annotations;
  return s;
}

Status Runtime::kill(const std::string& id, int signal, bool all) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (all) {
    TRY_ASSIGN(os::Cgroup cgroup, openCgroup(record));
    return cgroup.killAll(signal);
  }
  if (status == ContainerStatus::Stopped) return Error::make("container \"{}\" is not running", id);
  TRY_ASSIGN(UniqueFd pidfd, os::pidfdOpen(record.pid));
  // The pidfd pins the process; recheck that it is still our init.
  auto start = os::processStartTime(record.pid);
  if (!start || *start != record.startTime)
    return Error::make("container \"{}\" is not running", id);
  return os::pidfdSignal(pidfd, signal).context("kill container \"{}\"", id);
}

Status Runtime::cleanup(const ContainerRecord& record, const oci::Spec* spec,
                        os::Cgroup* cgroup, bool force) {
  std::optional<oci::Spec> loadedSpec;
  if (!spec) {
    if (auto s = oci::loadSpec(record.bundle)) loadedSpec = std::move(*s);
    spec = loadedSpec ? &*loadedSpec : nullptr;
  }
  if (spec && !spec->hooks.poststop.empty())
    warnIfFailed(runHooks(spec->hooks.poststop,
                          hookStateJson(record.id, 0, record.bundle, "stopped", *spec), "poststop"));
  std::optional<os::Cgroup> opened;
  if (!cgroup) {
    if (auto c = openCgroup(record)) opened = std::move(*c);
    cgroup = opened ? &*opened : nullptr;
  }
  if (cgroup) {
    // Processes outside the init's pid namespace (or not yet reaped) keep
    // the cgroup busy; an empty one needs no freeze-and-kill round.
    auto left = cgroup->pids();
    if (!left || !left->empty()) (void)cgroup->killAll(SIGKILL);
    TRY(cgroup->destroy().context("delete container \"{}\"", record.id));
  }
  if (!record.network.empty()) {
    // The init is gone, and with its namespace the container's end of the
    // network: no namespace path is passed (its pid may be reused).
    auto attachment = network::Attachment::fromJson(record.network);
    Status detached = attachment ? network::detach(*attachment) : Status(std::move(attachment).error());
    if (!detached) {
      if (!force) return std::move(detached).error().context("delete container \"{}\": network", record.id);
      warnIfFailed(detached);
    }
  }
  return store_.remove(record.id);
}

Status Runtime::remove(const std::string& id, bool force) {
  auto loaded = store_.load(id);
  if (!loaded) {
    if (force && loaded.error().code == ENOENT) return ok();
    return std::move(loaded).error();
  }
  ContainerRecord record = std::move(*loaded);
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status != ContainerStatus::Stopped) {
    if (!force)
      return Error::make("cannot delete container \"{}\" that is not stopped: {}", id,
                         statusName(status));
    if (auto cgroup = openCgroup(record)) {
      if (status == ContainerStatus::Paused) (void)cgroup->thaw();
      (void)cgroup->killAll(SIGKILL);
    }
    ::kill(record.pid, SIGKILL);
    if (!waitGone(record.pid, record.startTime, std::chrono::seconds(10)))
      return Error::make("container \"{}\": init {} did not exit after SIGKILL", id, record.pid);
  }
  return cleanup(record, nullptr, nullptr, force);
}

Result<std::vector<ContainerSummary>> Runtime::list() {
  std::vector<ContainerSummary> out;
  TRY_ASSIGN(auto ids, store_.ids());
  for (const auto& id : ids) {
    auto record = store_.load(id);
    if (!record) continue;  // deleted meanwhile
    TRY_ASSIGN(ContainerStatus status, statusOf(*record));
    out.push_back({std::move(*record), status});
  }
  return out;
}

Status Runtime::pause(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status != ContainerStatus::Running)
    return Error::make("cannot pause container \"{}\": it is {}", id, statusName(status));
  TRY_ASSIGN(os::Cgroup cgroup, openCgroup(record));
  return cgroup.freeze();
}

Status Runtime::resume(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(ContainerStatus status, statusOf(record));
  if (status != ContainerStatus::Paused)
    return Error::make("cannot resume container \"{}\": it is {}, not paused", id, statusName(status));
  TRY_ASSIGN(os::Cgroup cgroup, openCgroup(record));
  return cgroup.thaw();
}

Result<std::vector<pid_t>> Runtime::pids(const std::string& id) {
  TRY_ASSIGN(ContainerRecord record, store_.load(id));
  TRY_ASSIGN(os::Cgroup cgroup, openCgroup(record));
  return cgroup.pids();
}

}  // namespace nucleo::containerizer
