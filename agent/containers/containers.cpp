// Containers: launch through nucleo-supervisor, exits, kills, destroy,
// recovery. Pods live in pods.cpp, the config.json in spec_builder.cpp.
#include "agent/containers/containers.hpp"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/containers/container_files.hpp"
#include "agent/containers/host_rootfs.hpp"
#include "agent/containers/spec_builder.hpp"
#include "agent/containers/supervisor_protocol.hpp"
#include "agent/containers/task_network.hpp"
#include <boost/json.hpp>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "images/bundle.hpp"
#include "images/store.hpp"
#include "linux/cgroup.hpp"
#include "linux/cgroup_stats.hpp"
#include "linux/process.hpp"

namespace nucleo::agent {
namespace {

namespace sv = supervisor;
using detail::ContainerMeta;

constexpr int DESTROY_WAIT_MS = 5000;
// The container's addresses, one a line, kept after the runtime's state is gone.
constexpr const char* ADDRESSES_FILE = "addresses";

Status validateId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128 && id != "." && id != "..";
  for (char c : id) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) return Error::make("container id '{}': expected [A-Za-z0-9_.-]{{1,128}}", id);
  return {};
}

std::string imageMountId(const std::string& containerId) { return "agent-" + containerId; }

// The image the launch asks for, from the store, pulled through the runtime
// binary (`nucleo image pull`, the same path as the CLI) when missing.
Result<images::Image> resolveImage(const ContainersOptions& o, images::ImageStore& store, const std::string& ref) {
  auto record = store.resolve(ref);
  if (!record) {
    TRY_ASSIGN(auto run, detail::runProgram({o.runtimeBinary, "image", "--store", o.imageStoreRoot, "pull", ref}));
    if (run.status != 0)
      return Error::make("image '{}': not in the store and the pull failed: {}", ref, detail::lastLine(run.output));
    TRY_ASSIGN(record, store.resolve(ref));
  }
  return store.load(*record);
}

Result<oci::User> resolveUser(const ContainerLaunch& l, const images::Image* image, const std::string& rootfs) {
  std::string user = l.command.user();
  if (image) return images::resolveUserInRootfs(user.empty() ? image->config.user : user, rootfs);
  if (user.empty()) return oci::User{};
  TRY_ASSIGN(auto passwd, fs::readFile("/etc/passwd"));
  auto group = fs::readFile("/etc/group");
  return images::resolveUser(user, passwd, group ? *group : std::string());
}

std::vector<std::string> oomFiles(const std::string& cgroup) {
  auto layout = os::CgroupLayout::detect();
  if (!layout || !layout->available("memory")) return {};
  if (layout->versionOf("memory") == os::CgroupVersion::V2) return {layout->v2Mount + cgroup + "/memory.events"};
  return {layout->v1Mounts.at("memory") + cgroup + "/memory.oom_control"};
}

}  // namespace

Containers::Containers(ContainersOptions options) : options_(std::move(options)) {}

std::string Containers::containerDir(const std::string& id) const {
  return options_.workDir + "/containers/" + id;
}

std::string Containers::runtimeRoot() const { return options_.workDir + "/runtime"; }

mesos::v1::CommandInfo Containers::execCommand(const std::string& containerId,
                                               const mesos::v1::CommandInfo& command) const {
  mesos::v1::CommandInfo wrapped;
  wrapped.set_shell(false);
  wrapped.set_value(options_.runtimeBinary);
  for (const char* arg : {"nucleo", "--root"}) wrapped.add_arguments(arg);
  wrapped.add_arguments(runtimeRoot());
  wrapped.add_arguments("exec");
  for (const auto& variable : command.environment().variables()) {
    wrapped.add_arguments("--env");
    wrapped.add_arguments(variable.name() + "=" + variable.value());
  }
  wrapped.add_arguments(containerId);
  if (command.shell()) {
    for (const char* arg : {"/bin/sh", "-c"}) wrapped.add_arguments(arg);
    wrapped.add_arguments(command.value());
  } else {
    // Mesos: `value` is the program and `arguments` its whole argv.
    wrapped.add_arguments(command.value());
    for (int i = 1; i < command.arguments_size(); ++i) wrapped.add_arguments(command.arguments(i));
  }
  return wrapped;
}

Result<pid_t> Containers::launch(const ContainerLaunch& l) {
  TRY(validateId(l.containerId));
  std::string dir = containerDir(l.containerId);
  if (fs::exists(dir)) return Error::make("launch '{}': the container already exists", l.containerId);
  if (!fs::exists(l.sandbox)) return Error::make("launch '{}': sandbox '{}' does not exist", l.containerId, l.sandbox);
  auto pid = launchIn(l, dir);
  if (!pid) {
    (void)destroy(l.containerId);
    return std::move(pid).error().context("launch '{}'", l.containerId);
  }
  return pid;
}

Result<pid_t> Containers::launchIn(const ContainerLaunch& l, const std::string& dir) {
  std::optional<PodNamespaces> pod;
  if (l.podId) {
    TRY_ASSIGN(pod, podNamespaces(*l.podId));
  }
  std::optional<images::ImageStore> store;
  std::optional<images::Image> image;
  if (l.container) {
    if (l.container->type() == mesos::v1::ContainerInfo::DOCKER)
      return Error::make("container.type DOCKER: not supported (use MESOS with an image)");
    const auto& img = l.container->mesos().image();
    if (l.container->mesos().has_image()) {
      if (!options_.isolation.filesystemLinux)
        return Error::make("container.mesos.image: needs filesystem/linux in the agent's --isolation");
      if (img.type() != mesos::v1::Image::DOCKER || img.docker().name().empty())
        return Error::make("container.mesos.image: only DOCKER images with a name are supported");
      TRY_ASSIGN(store, images::ImageStore::open(options_.imageStoreRoot));
      TRY_ASSIGN(image, resolveImage(options_, *store, img.docker().name()));
    }
  }
  ContainerMeta meta;
  TRY_ASSIGN(meta.cgroup, os::Cgroup::normalizePath(options_.cgroupParent + "/" + l.containerId));
  if (image) meta.imageMount = imageMountId(l.containerId);
  else meta.hostRootfs = true;
  std::string bundle = dir + "/" + sv::BUNDLE_DIR;
  TRY(fs::makeDirs(options_.workDir + "/containers", 0700));
  TRY(fs::makeDirs(bundle, 0700));
  TRY(fs::writeFileAtomic(dir + "/" + sv::META_FILE, detail::formatMeta(meta), 0600, fs::Durability::Volatile));
  SpecContext ctx;
  ctx.rootfs = bundle + "/rootfs";
  TRY(fs::makeDirs(ctx.rootfs, 0755));
  if (image) {
    TRY(store->mountRootfs(*image, meta.imageMount, ctx.rootfs));
    ctx.image = &image->config;
  } else {
    TRY(mountHostRootfs(ctx.rootfs, options_.workDir + "/containers"));
  }
  TRY_ASSIGN(ctx.user, resolveUser(l, image ? &*image : nullptr, ctx.rootfs));
  ctx.cgroupsPath = meta.cgroup;
  ctx.sandboxMountPoint = options_.sandboxMountPoint;
  ctx.pod = pod;
  ctx.isolation = options_.isolation;
  if (!pod) {
    TRY_ASSIGN(auto net, taskNetwork(l.container, options_.bridge.name));
    TRY(networkAllowed(net, options_.isolation.networkCni));
    ctx.networkMode = net.mode;
    ctx.publish = net.publish;
  }
  TRY_ASSIGN(std::string config, buildConfigJson(l, ctx));
  TRY(fs::writeFileAtomic(bundle + "/config.json", config, 0600, fs::Durability::Volatile));
  std::vector<std::string> argv = {options_.supervisorBinary, "container", "--dir", dir,
                                   "--runtime", options_.runtimeBinary, "--root", runtimeRoot(),
                                   "--id", l.containerId, "--sandbox", l.sandbox,
                                   "--max-log-bytes", std::to_string(options_.maxLogBytes)};
  for (const auto& f : oomFiles(meta.cgroup)) argv.insert(argv.end(), {"--oom-file", f});
  if (!ctx.networkMode.empty())
    for (const auto& a : networkCreateArgs()) argv.insert(argv.end(), {"--create-arg", a});
  TRY_ASSIGN(std::string report, detail::startSupervisorProcess(argv));
  auto pid = strings::toInt(report);
  if (!pid || *pid <= 0) return Error::make("supervisor: bad report '{}'", report);
  TRY(recordAddresses(l.containerId, ctx));
  return static_cast<pid_t>(*pid);
}

// The runtime's network flags for `create`; the mode and ports come from the
// bundle's annotations.
std::vector<std::string> Containers::networkCreateArgs() const {
  const auto& b = options_.bridge;
  std::vector<std::string> args = {"--bridge", b.name, "--nft-table", b.table, "--network-state", b.stateDir,
                                   "--cni-config-dir", options_.cni.configDir,
                                   "--cni-plugin-dir", strings::join(options_.cni.pluginDirs, ":")};
  if (b.subnet) args.insert(args.end(), {"--subnet", b.subnet->str()});
  return args;
}

// What the runtime recorded in its state (network::Attachment JSON), kept in
// the container's directory so status updates can name the addresses.
// A pod's task has the pod's addresses.
Status Containers::recordAddresses(const std::string& id, const SpecContext& ctx) {
  std::string file = containerDir(id) + "/" + ADDRESSES_FILE;
  if (ctx.pod && !ctx.pod->addressesFile.empty()) {
    TRY_ASSIGN(auto lines, fs::readFile(ctx.pod->addressesFile));
    return fs::writeFileAtomic(file, lines, 0600, fs::Durability::Volatile);
  }
  if (ctx.networkMode.empty()) return {};
  TRY_ASSIGN(auto text, fs::readFile(runtimeRoot() + "/" + id + "/state.json"));
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  std::string lines;
  if (!ec && v.is_object()) {
    if (auto* n = v.as_object().if_contains("network"); n && n->is_string()) {
      TRY_ASSIGN(auto att, network::Attachment::fromJson(std::string(n->as_string())));
      for (const auto& ip : att.ips) lines += ip.substr(0, ip.find('/')) + "\n";
    }
  }
  return fs::writeFileAtomic(file, lines, 0600, fs::Durability::Volatile);
}

Result<std::vector<std::string>> Containers::ipAddresses(const std::string& id) {
  TRY(validateId(id));
  std::string dir = containerDir(id);
  if (!fs::exists(dir)) return Error::make("container '{}': unknown", id);
  auto text = fs::readFile(dir + "/" + ADDRESSES_FILE);
  if (!text) return std::vector<std::string>();
  return strings::split(*text, '\n', true);
}

Result<std::optional<UniqueFd>> Containers::supervisorOf(const std::string& id) {
  auto text = fs::readFile(containerDir(id) + "/" + sv::SUPERVISOR_FILE);
  if (!text) return std::optional<UniqueFd>();
  TRY_ASSIGN(auto sid, detail::parseSupervisorId(*text));
  return detail::openIfSame(sid);
}

Result<UniqueFd> Containers::exitFd(const std::string& id) {
  TRY(validateId(id));
  if (!fs::exists(containerDir(id))) return Error::make("container '{}': unknown", id);
  TRY_ASSIGN(auto pidfd, supervisorOf(id));
  if (pidfd) return std::move(*pidfd);
  // Already gone: a pipe whose writer is closed is readable at once.
  TRY_ASSIGN(auto pipe, makePipe());
  return std::move(pipe.first);
}

Result<std::optional<ContainerExit>> Containers::exitOf(const std::string& id) {
  TRY(validateId(id));
  std::string dir = containerDir(id);
  if (!fs::exists(dir)) return Error::make("container '{}': unknown", id);
  if (auto text = fs::readFile(dir + "/" + sv::EXIT_FILE)) {
    TRY_ASSIGN(auto exit, detail::parseExit(*text));
    return std::optional<ContainerExit>(exit);
  }
  TRY_ASSIGN(auto pidfd, supervisorOf(id));
  if (pidfd) return std::optional<ContainerExit>();
  // The supervisor may have written the exit just before it went away.
  if (auto text = fs::readFile(dir + "/" + sv::EXIT_FILE)) {
    TRY_ASSIGN(auto exit, detail::parseExit(*text));
    return std::optional<ContainerExit>(exit);
  }
  TRY_ASSIGN(auto exit, recordLostExit(id));
  return std::optional<ContainerExit>(exit);
}

// The supervisor died without recording an exit (SIGKILLed, or the machine
// state is partial): kill what is left and record that.
Result<ContainerExit> Containers::recordLostExit(const std::string& id) {
  std::string dir = containerDir(id);
  ContainerExit exit;
  exit.waitStatus = SIGKILL;  // as waitpid reports a SIGKILLed process
  exit.message = fs::exists(dir + "/" + sv::SUPERVISOR_FILE)
                     ? "the container's supervisor died without recording its exit; the container was killed"
                     : "the launch did not finish; the container was killed";
  if (auto meta = fs::readFile(dir + "/" + sv::META_FILE)) {
    if (auto m = detail::parseMeta(*meta)) (void)killCgroup(m->cgroup);
  }
  TRY(fs::writeFileAtomic(dir + "/" + sv::EXIT_FILE, detail::formatExit(exit), 0600, fs::Durability::Volatile));
  return exit;
}

Status Containers::killCgroup(const std::string& cgroup) {
  TRY_ASSIGN(auto layout, os::CgroupLayout::detect());
  auto cg = os::Cgroup::open(layout, cgroup);
  if (!cg) return {};  // nothing left to kill
  return cg->killAll(SIGKILL);
}

Status Containers::kill(const std::string& id, std::chrono::milliseconds grace) {
  TRY(validateId(id));
  std::string dir = containerDir(id);
  if (!fs::exists(dir)) return Error::make("kill '{}': unknown container", id);
  if (fs::exists(dir + "/" + sv::EXIT_FILE)) return {};
  TRY_ASSIGN(auto pidfd, supervisorOf(id));
  if (!pidfd) {
    TRY(exitOf(id).context("kill '{}'", id));
    return {};
  }
  TRY(fs::writeFileAtomic(dir + "/" + sv::KILL_FILE, std::to_string(std::max<int64_t>(0, grace.count())) + "\n",
                          0600, fs::Durability::Volatile));
  return os::pidfdSignal(*pidfd, SIGUSR1).context("kill '{}'", id);
}

Status Containers::destroy(const std::string& id) {
  TRY(validateId(id));
  std::string dir = containerDir(id);
  if (!fs::exists(dir)) return {};
  std::optional<ContainerMeta> meta;
  if (auto text = fs::readFile(dir + "/" + sv::META_FILE)) {
    if (auto m = detail::parseMeta(*text)) meta = *m;
  }
  Status first;
  auto keep = [&](Status s) {
    if (!s && first) first = std::move(s);
  };
  if (meta) keep(killCgroup(meta->cgroup));
  if (auto pidfd = supervisorOf(id); pidfd && *pidfd) {
    // It records the exit once the init is reaped; a stuck one is killed.
    if (!detail::waitPidfd(**pidfd, DESTROY_WAIT_MS)) (void)os::pidfdSignal(**pidfd, SIGKILL);
  }
  auto del = detail::runProgram({options_.runtimeBinary, "--root", runtimeRoot(), "delete", "--force", id});
  if (!del) keep(std::move(del).error());
  if (meta) {
    if (auto layout = os::CgroupLayout::detect()) {
      if (auto cg = os::Cgroup::open(*layout, meta->cgroup)) keep(cg->destroy());
    }
    if (!meta->imageMount.empty()) {
      auto store = images::ImageStore::open(options_.imageStoreRoot);
      keep(store ? store->unmountRootfs(meta->imageMount) : Status(std::move(store).error()));
    }
    if (meta->hostRootfs) keep(unmountHostRootfs(dir + "/" + sv::BUNDLE_DIR + "/rootfs"));
  }
  // Never recurse into a file system still mounted there (the host's / for
  // a host-filesystem container).
  auto mounted = hasMountsUnder(dir);
  if (!mounted || *mounted) {
    keep(Error::make("'{}' still has mounts under it; left in place", dir));
    return std::move(first).error().context("destroy '{}'", id);
  }
  keep(fs::removeAll(dir));
  if (!first) return std::move(first).error().context("destroy '{}'", id);
  return {};
}

Result<std::vector<ContainerInfoOnDisk>> Containers::recover() {
  std::vector<ContainerInfoOnDisk> out;
  std::string root = options_.workDir + "/containers";
  DIR* d = ::opendir(root.c_str());
  if (!d && errno == ENOENT) return out;
  if (!d) return Error::fromErrno("recover: open '" + root + "'");
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != ".." && validateId(name)) ids.push_back(name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    ContainerInfoOnDisk info;
    info.containerId = id;
    if (auto pid = fs::readFile(containerDir(id) + "/" + sv::INIT_PID_FILE)) {
      info.pid = static_cast<pid_t>(strings::toInt(strings::trim(*pid)).value_or(0));
    }
    TRY_ASSIGN(auto exit, exitOf(id));
    info.phase = exit ? ContainerPhase::Exited : ContainerPhase::Running;
    info.exit = exit;
    out.push_back(std::move(info));
  }
  return out;
}

Result<Containers::Usage> Containers::usage(const std::string& id) {
  TRY(validateId(id));
  TRY_ASSIGN(auto text, fs::readFile(containerDir(id) + "/" + sv::META_FILE).context("usage '{}'", id));
  TRY_ASSIGN(auto meta, detail::parseMeta(text));
  TRY_ASSIGN(auto layout, os::CgroupLayout::detect());
  TRY_ASSIGN(auto cg, os::Cgroup::open(layout, meta.cgroup).context("usage '{}'", id));
  TRY_ASSIGN(auto stats, os::readCgroupStats(cg));
  Usage u;
  if (stats.cpu) u.cpuSeconds = static_cast<double>(stats.cpu->totalNs) / 1e9;
  if (stats.memory) {
    u.memoryBytes = stats.memory->usage.usage;
    u.memoryLimitBytes = stats.memory->usage.limit;
  }
  if (stats.pids) u.processes = stats.pids->current;
  return u;
}

}  // namespace nucleo::agent
