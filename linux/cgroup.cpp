// Cgroup: directories, membership, freezer, kill and removal. Limits are in
// cgroup_v1.cpp and cgroup_v2.cpp, layout detection in cgroup_layout.cpp.

#include "linux/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <thread>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup_internal.hpp"

namespace nucleo::os {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Freezing waits for every task to reach the kernel's freezer, which a task
// in uninterruptible sleep (e.g. on NFS) can delay; give up after this long.
constexpr auto FREEZE_TIMEOUT = 10s;
// rmdir returns EBUSY until killed tasks have fully exited.
constexpr auto RMDIR_TIMEOUT = 5s;

// Polls pred with a back-off from 1 ms to 50 ms until it holds or timeout.
Result<bool> pollUntil(std::chrono::milliseconds timeout,
                       const std::function<Result<bool>()>& pred) {
  auto deadline = Clock::now() + timeout;
  auto delay = 1ms;
  for (;;) {
    TRY_ASSIGN(bool done, pred());
    if (done) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

Result<UniqueFd> openDir(int parent, const std::string& name) {
  return UniqueFd::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

// Names of the sub-directories (child cgroups) of dirfd.
Result<std::vector<std::string>> childCgroups(int dirfd, const std::string& path) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open '" + path + "'");
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return Error::fromErrno("opendir '" + path + "'");
  }
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = entry->d_type == DT_DIR;
    // Some filesystems (not cgroupfs) leave d_type unknown.
    struct stat st;
    if (entry->d_type == DT_UNKNOWN &&
        ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      isDir = S_ISDIR(st.st_mode);
    if (isDir) names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

Status collectPids(const CgroupDir& dir, std::vector<pid_t>& out) {
  TRY_ASSIGN(std::string procs, dir.read("cgroup.procs"));
  for (const std::string& line : strings::split(procs, '\n', true)) {
    std::optional<int64_t> pid = strings::toInt(strings::trim(line));
    if (!pid || *pid <= 0)
      return Error::make("{}/cgroup.procs: bad pid '{}'", dir.path, line);
    out.push_back(static_cast<pid_t>(*pid));
  }
  TRY_ASSIGN(std::vector<std::string> children, childCgroups(dir.fd, dir.path));
  for (const std::string& name : children) {
    Result<UniqueFd> child = openDir(dir.fd, name);
    if (!child && child.error().code == ENOENT) continue;  // removed meanwhile
    if (!child) return std::move(child).error().context("{}", dir.path);
    TRY(collectPids(CgroupDir{child->get(), dir.path + "/" + name}, out));
  }
  return ok();
}

// rmdir of parent/name after its descendants, retrying on EBUSY.
Status removeTree(int parent, const std::string& parentPath, const std::string& name) {
  std::string path = parentPath + "/" + name;
  Result<UniqueFd> dir = openDir(parent, name);
  if (!dir && dir.error().code == ENOENT) return ok();
  if (!dir) return std::move(dir).error().context("{}", parentPath);
  TRY_ASSIGN(std::vector<std::string> children, childCgroups(dir->get(), path));
  for (const std::string& child : children) TRY(removeTree(dir->get(), path, child));

  auto deadline = Clock::now() + RMDIR_TIMEOUT;
  for (;;) {
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT)
      return ok();
    if (errno != EBUSY || Clock::now() >= deadline)
      return Error::fromErrno("rmdir '" + path + "'");
    std::this_thread::sleep_for(10ms);
  }
}

// A new v1 cpuset cgroup starts with empty cpus/mems, and no task can join
// it until they are set: copy the parent's, as runc does.
Status inheritCpuset(const CgroupDir& parent, const CgroupDir& child) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    TRY_ASSIGN(std::string current, child.read(file));
    if (!strings::trim(current).empty()) continue;
    TRY_ASSIGN(std::string inherited, parent.read(file));
    TRY(child.write(file, strings::trim(inherited)));
  }
  return ok();
}

}  // namespace

Result<std::string> CgroupDir::read(const std::string& file) const {
  Result<std::string> content = fs::readFileAt(fd, file);
  if (!content) {
    int code = content.error().code;
    return Error{code, fmt::format("read '{}/{}': {}", path, file, std::strerror(code))};
  }
  return content;
}

Status CgroupDir::write(const std::string& file, std::string_view value) const {
  if (journal != nullptr) {
    Result<std::string> old = read(file);
    if (!old) return std::move(old).error();
    std::optional<std::string> undo =
        cgroup_internal::undoValue(file, *old, std::string(value));
    if (undo) journal->push_back({fd, path, file, std::move(*undo)});
  }
  Status written = fs::writeExistingAt(fd, file, value);
  if (!written) {
    int code = written.error().code;
    return Error{code, fmt::format("write '{}' to '{}/{}': {}", value, path, file,
                                   std::strerror(code))};
  }
  return ok();
}

bool CgroupDir::has(const std::string& file) const {
  return ::faccessat(fd, file.c_str(), F_OK, 0) == 0;
}

Result<Cgroup> Cgroup::create(const CgroupLayout& layout, const std::string& path) {
  return build(layout, path, true);
}

Result<Cgroup> Cgroup::open(const CgroupLayout& layout, const std::string& path) {
  return build(layout, path, false);
}

Result<Cgroup> Cgroup::build(const CgroupLayout& layout, const std::string& rawPath,
                             bool create) {
  Cgroup cg;
  TRY_ASSIGN(cg.path_, normalizePath(rawPath));
  cg.layout_ = layout;
  if (!layout.v2Mount.empty())
    cg.hierarchies_.push_back({CgroupVersion::V2, layout.v2Mount, {}, {}});
  std::map<std::string, std::vector<std::string>> byMount;
  for (const auto& [controller, mount] : layout.v1Mounts)
    byMount[mount].push_back(controller);
  for (auto& [mount, controllers] : byMount)
    cg.hierarchies_.push_back({CgroupVersion::V1, mount, std::move(controllers), {}});

  std::vector<std::string> made;  // absolute paths of created directories
  auto fail = [&made](Error err) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
    return err;
  };
  std::vector<std::string> parts = strings::split(cg.path_, '/', true);
  for (Hierarchy& h : cg.hierarchies_) {
    bool cpuset = std::count(h.controllers.begin(), h.controllers.end(), "cpuset") > 0;
    Result<UniqueFd> dir = UniqueFd::open(h.mountPoint, O_RDONLY | O_DIRECTORY);
    std::string dirPath = h.mountPoint;
    for (size_t i = 0; dir && i < parts.size(); ++i) {
      std::string childPath = dirPath + "/" + parts[i];
      if (create && ::mkdirat(dir->get(), parts[i].c_str(), 0755) == 0)
        made.push_back(childPath);
      else if (create && errno != EEXIST)
        return fail(Error::fromErrno("mkdir '" + childPath + "'"));
      Result<UniqueFd> child = openDir(dir->get(), parts[i]);
      if (child && create && cpuset) {
        Status inherited = inheritCpuset(CgroupDir{dir->get(), dirPath},
                                         CgroupDir{child->get(), childPath});
        if (!inherited) return fail(std::move(inherited).error());
      }
      dir = std::move(child);
      dirPath = childPath;
    }
    if (!dir)
      return fail(
          std::move(dir).error().context("cgroup '{}' in '{}'", cg.path_, h.mountPoint));
    h.dir = std::move(*dir);
  }
  return cg;
}

const Cgroup::Hierarchy* Cgroup::v2() const {
  if (hierarchies_.empty() || hierarchies_[0].version != CgroupVersion::V2)
    return nullptr;
  return &hierarchies_[0];
}

const Cgroup::Hierarchy* Cgroup::find(const std::string& controller) const {
  if (!layout_.available(controller)) return nullptr;
  if (layout_.versionOf(controller) == CgroupVersion::V2) return v2();
  for (const Hierarchy& h : hierarchies_) {
    if (std::count(h.controllers.begin(), h.controllers.end(), controller)) return &h;
  }
  return nullptr;
}

CgroupDir Cgroup::dirAt(const Hierarchy& hierarchy) const {
  return CgroupDir{hierarchy.dir.get(), hierarchy.mountPoint + path_, journal_};
}

std::optional<CgroupDir> Cgroup::controllerDir(const std::string& controller) const {
  const Hierarchy* h = find(controller);
  if (h == nullptr) return std::nullopt;
  return dirAt(*h);
}

std::optional<CgroupDir> Cgroup::unifiedDir() const {
  if (v2() == nullptr) return std::nullopt;
  return dirAt(*v2());
}

Status Cgroup::checkAvailable(const CgroupLimits& l) const {
  using namespace cgroup_internal;
  // Refuse up front rather than half-apply limits the host cannot enforce.
  if (!l.unified.empty() && v2() == nullptr)
    return Error::make("cgroup '{}': unified limits need cgroup2, which is not mounted",
                       path_);
  const std::pair<bool, const char*> wanted[] = {
      {memorySet(l), "memory"},
      {cpuSet(l), "cpu"},
      {cpusetSet(l), "cpuset"},
      {l.pidsLimit.has_value(), "pids"},
      {!l.hugepageLimits.empty(), "hugetlb"},
      {l.netClassId.has_value(), "net_cls"},
      {!l.netPriorities.empty(), "net_prio"}};
  for (const auto& [set, controller] : wanted) {
    if (set && !layout_.available(controller))
      return Error::make("cgroup '{}': {} limits set but the host has no {} controller",
                         path_, controller, controller);
  }
  if (ioSet(l) && !layout_.available("io") && !layout_.available("blkio"))
    return Error::make("cgroup '{}': blockIO limits set but the host has no io or blkio "
                       "controller", path_);
  // On a pure v2 host devices are a BPF program, which needs no controller.
  if (l.devices && !layout_.available("devices") && v2() == nullptr)
    return Error::make("cgroup '{}': device rules set but no devices controller", path_);
  return ok();
}

Status Cgroup::apply(const CgroupLimits& l) {
  TRY(checkAvailable(l));
  if (v2() != nullptr) TRY(applyV2(l));
  TRY(applyV1(l));
  return applyDevices(l);
}

Status Cgroup::update(const CgroupLimits& l) {
  TRY(checkAvailable(l));
  std::vector<CgroupUndo> journal;
  journal_ = &journal;
  Status applied = v2() != nullptr ? applyV2(l) : ok();
  if (applied) applied = applyV1(l);
  journal_ = nullptr;
  if (applied) return applyDevices(l);
  std::string failedRestores;
  for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
    CgroupDir dir{it->fd, it->path};
    if (Status restored = dir.write(it->file, it->value); !restored)
      failedRestores += "; restoring also failed: " + restored.error().message;
  }
  Error err = std::move(applied).error();
  err.message += failedRestores;
  return err;
}

std::string Cgroup::dirOf(const std::string& controller) const {
  const Hierarchy* h = find(controller);
  return h ? h->mountPoint + path_ : "";
}

Status Cgroup::addProcess(pid_t pid) {
  for (const Hierarchy& h : hierarchies_)
    TRY(dirAt(h).write("cgroup.procs", std::to_string(pid)));
  return ok();
}

Result<UniqueFd> Cgroup::v2DirFd() const {
  if (layout_.mode != CgroupLayout::Mode::Unified || v2() == nullptr)
    return Error::make("cgroup '{}': CLONE_INTO_CGROUP needs a unified-only layout",
                       path_);
  return UniqueFd::openat(v2()->dir.get(), ".", O_RDONLY | O_DIRECTORY);
}

Result<Cgroup::ChildPlacement> Cgroup::childPlacement() const {
  ChildPlacement placement;
  for (const Hierarchy& h : hierarchies_) {
    if (h.version == CgroupVersion::V2) {
      TRY_ASSIGN(placement.cloneInto, UniqueFd::openat(h.dir.get(), ".", O_RDONLY | O_DIRECTORY));
      continue;
    }
    auto tasks = UniqueFd::openat(h.dir.get(), "tasks", O_WRONLY);
    if (!tasks) return std::move(tasks).error().context("cgroup '{}{}'", h.mountPoint, path_);
    placement.selfTasks.push_back(std::move(*tasks));
  }
  return placement;
}

Status Cgroup::joinSelf(const std::vector<int>& tasksFds) {
  for (int fd : tasksFds) {
    // A single thread moving itself skips cgroup_threadgroup_rwsem.
    if (::write(fd, "0", 1) != 1) return Error::fromErrno("join cgroup (tasks file fd " + std::to_string(fd) + ")");
  }
  return ok();
}

Result<std::vector<pid_t>> Cgroup::pids() const {
  std::vector<pid_t> out;
  for (const Hierarchy& h : hierarchies_) TRY(collectPids(dirAt(h), out));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status Cgroup::freezeV1(bool freeze) {
  CgroupDir dir = dirAt(*find("freezer"));
  const char* want = freeze ? "FROZEN" : "THAWED";
  // Re-writing the target state on each poll nudges tasks that were forking
  // while the first request went out, as runc does.
  TRY_ASSIGN(bool reached, pollUntil(FREEZE_TIMEOUT, [&]() -> Result<bool> {
               TRY(dir.write("freezer.state", want));
               TRY_ASSIGN(std::string state, dir.read("freezer.state"));
               return strings::trim(state) == want;
             }));
  if (reached) return ok();
  if (freeze) (void)dir.write("freezer.state", "THAWED");
  return Error::make("{}/freezer.state: did not reach {} in {}s", dir.path, want,
                     FREEZE_TIMEOUT.count());
}

Status Cgroup::freezeV2(bool freeze) {
  CgroupDir dir = dirAt(*v2());
  TRY(dir.write("cgroup.freeze", freeze ? "1" : "0"));
  TRY_ASSIGN(bool reached, pollUntil(FREEZE_TIMEOUT, [&]() -> Result<bool> {
               TRY_ASSIGN(bool now, frozen());
               return now == freeze;
             }));
  if (reached) return ok();
  if (freeze) (void)dir.write("cgroup.freeze", "0");
  return Error::make("{}/cgroup.events: 'frozen {}' not reached in {}s", dir.path,
                     freeze ? 1 : 0, FREEZE_TIMEOUT.count());
}

Status Cgroup::freeze() {
  const Hierarchy* h = find("freezer");
  if (h == nullptr) return Error::make("freeze '{}': no freezer available", path_);
  return h->version == CgroupVersion::V2 ? freezeV2(true) : freezeV1(true);
}

Status Cgroup::thaw() {
  const Hierarchy* h = find("freezer");
  if (h == nullptr) return Error::make("thaw '{}': no freezer available", path_);
  return h->version == CgroupVersion::V2 ? freezeV2(false) : freezeV1(false);
}

Result<bool> Cgroup::frozen() const {
  const Hierarchy* h = find("freezer");
  if (h == nullptr) return Error::make("cgroup '{}': no freezer available", path_);
  CgroupDir dir = dirAt(*h);
  if (h->version == CgroupVersion::V1) {
    TRY_ASSIGN(std::string state, dir.read("freezer.state"));
    return strings::trim(state) == "FROZEN";
  }
  TRY_ASSIGN(std::string events, dir.read("cgroup.events"));
  for (const std::string& line : strings::split(events, '\n', true)) {
    if (strings::startsWith(line, "frozen ")) return strings::trim(line) == "frozen 1";
  }
  return Error::make("{}/cgroup.events: no 'frozen' line", dir.path);
}

Status Cgroup::killAll(int signal) {
  const Hierarchy* unified = v2();
  if (signal == SIGKILL && unified && dirAt(*unified).has("cgroup.kill")) {
    TRY(dirAt(*unified).write("cgroup.kill", "1"));
    // Every process is in the v2 tree here; on hybrid hosts a process might
    // have joined only v1 hierarchies, so fall through and signal those too.
    if (layout_.mode == CgroupLayout::Mode::Unified) return ok();
  }
  bool canFreeze = find("freezer") != nullptr;
  bool wasFrozen = false;
  Status frozeStatus;
  if (canFreeze) {
    TRY_ASSIGN(wasFrozen, frozen());
    if (!wasFrozen) frozeStatus = freeze();
  }
  Status status;
  Result<std::vector<pid_t>> members = pids();
  if (!members) status = std::move(members).error();
  for (pid_t pid : members ? *members : std::vector<pid_t>{}) {
    if (::kill(pid, signal) < 0 && errno != ESRCH && status)
      status = Error::fromErrno(fmt::format("kill pid {} with signal {}", pid, signal));
  }
  if (canFreeze && (!wasFrozen || signal == SIGKILL)) {
    Status thawed = thaw();
    if (status && !thawed) status = std::move(thawed);
  }
  if (status && !frozeStatus)
    return std::move(frozeStatus).error().context("signalled without freezing");
  return status;
}

Status Cgroup::destroy() {
  std::string leaf = path_.substr(path_.rfind('/') + 1);
  for (const Hierarchy& h : hierarchies_) {
    Result<UniqueFd> parent = openDir(h.dir.get(), "..");
    if (!parent && parent.error().code == ENOENT) continue;  // already removed
    if (!parent) return std::move(parent).error().context("{}{}", h.mountPoint, path_);
    std::string parentPath = h.mountPoint + path_.substr(0, path_.rfind('/'));
    TRY(removeTree(parent->get(), parentPath, leaf));
  }
  return ok();
}

}  // namespace nucleo::os
