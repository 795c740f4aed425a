#include "integration-tests/runtime/runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <system_error>

#include <linux/magic.h>

#include "base/fs.hpp"
#include "integration-tests/runtime/bundle.hpp"
#include "integration-tests/runtime/report.hpp"

namespace nucleo::itest {

namespace stdfs = std::filesystem;

std::string RunResult::describe() const {
  std::string s = timedOut ? "timed out" : "exit " + std::to_string(exitCode);
  if (!err.empty()) s += ", stderr: " + err;
  if (!out.empty()) s += ", stdout: " + out;
  return s;
}

bool hostHasHybridCgroups() {
  struct statfs st {};
  if (::statfs("/sys/fs/cgroup", &st) != 0) return false;
  if (st.f_type == CGROUP2_SUPER_MAGIC) return false;
  return ::access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0;
}

Runtime::Runtime(std::string name, stdfs::path binary, stdfs::path workDir)
    : name_(std::move(name)),
      binary_(std::move(binary)),
      workDir_(std::move(workDir)),
      root_(workDir_ / "root") {}

Result<Runtime> Runtime::find(const std::string& name, const stdfs::path& workDir) {
  stdfs::path binary;
  if (name == "nucleo") {
    binary = stdfs::path(NUCLEO_BIN_DIR) / "nucleo";
  } else {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                            "/usr/bin", "/sbin", "/bin"}) {
      if (::access((stdfs::path(dir) / name).c_str(), X_OK) == 0) {
        binary = stdfs::path(dir) / name;
        break;
      }
    }
  }
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    return Error::make("runtime '{}' not found (looked for '{}')", name,
                       binary.empty() ? name : binary.string());
  }
  Runtime rt(name, binary, workDir);
  TRY(fs::makeDirs(rt.root_.string(), 0700));
  if (name == "crun" && hostHasHybridCgroups()) {
    rt.hideHybridCgroup_ = true;
    TRY(fs::writeFileAtomic((workDir / "empty-cgroup.controllers").string(), ""));
  }
  return rt;
}

std::vector<std::string> Runtime::command(const std::vector<std::string>& args) const {
  std::vector<std::string> cmd;
  if (hideHybridCgroup_) {
    // Only this namespace sees the bind mount; the host's cgroup mounts stay.
    cmd = {"unshare", "-m", "--", "sh", "-c",
           "mount --make-rprivate / && mount --bind \"$0\" "
           "/sys/fs/cgroup/unified/cgroup.controllers && exec \"$@\"",
           (workDir_ / "empty-cgroup.controllers").string()};
  }
  cmd.push_back(binary_.string());
  cmd.push_back("--root");
  cmd.push_back(root_.string());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

namespace {

std::atomic<int> ioCounter{0};

// Only async-signal-safe calls between fork and exec.
[[noreturn]] void execChild(const std::vector<char*>& argv, int outFd, int errFd) {
  ::setpgid(0, 0);
  int devNull = ::open("/dev/null", O_RDONLY);
  if (devNull < 0 || ::dup2(devNull, 0) < 0 || ::dup2(outFd, 1) < 0 ||
      ::dup2(errFd, 2) < 0) {
    ::_exit(126);
  }
  if (devNull > 2) ::close(devNull);
  ::execvp(argv[0], argv.data());
  ::_exit(127);
}

std::string readAll(const stdfs::path& path) {
  auto text = fs::readFile(path.string());
  return text ? *text : std::string();
}

}  // namespace

Result<RuntimeProcess> Runtime::start(const std::vector<std::string>& args) const {
  std::vector<std::string> cmd = command(args);
  std::vector<char*> argv;
  for (auto& s : cmd) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);

  int n = ioCounter.fetch_add(1);
  stdfs::path outPath = workDir_ / ("out-" + std::to_string(n));
  stdfs::path errPath = workDir_ / ("err-" + std::to_string(n));
  int outFd = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int errFd = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (outFd < 0 || errFd < 0) {
    Error e = Error::fromErrno("open output file in '" + workDir_.string() + "'");
    if (outFd >= 0) ::close(outFd);
    if (errFd >= 0) ::close(errFd);
    return e;
  }
  pid_t pid = ::fork();
  if (pid == 0) execChild(argv, outFd, errFd);
  int forkErr = errno;
  ::close(outFd);
  ::close(errFd);
  if (pid < 0) return Error::fromErrno("fork", forkErr);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return RuntimeProcess(pid, pidfd, outPath, errPath);
}

RunResult Runtime::run(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout) const {
  auto proc = start(args);
  if (!proc) {
    RunResult r;
    r.err = proc.error().message;
    return r;
  }
  return proc->wait(timeout);
}

RuntimeProcess::RuntimeProcess(RuntimeProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      outPath_(std::move(other.outPath_)),
      errPath_(std::move(other.errPath_)) {}

RuntimeProcess::~RuntimeProcess() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::string RuntimeProcess::outSoFar() const { return readAll(outPath_); }

RunResult RuntimeProcess::wait(std::chrono::milliseconds timeout) {
  RunResult r;
  if (pid_ <= 0) return r;
  struct pollfd pfd {pidfd_, POLLIN, 0};
  int ready = pidfd_ >= 0 ? ::poll(&pfd, 1, static_cast<int>(timeout.count())) : 1;
  if (ready == 0) {
    r.timedOut = true;
    ::kill(-pid_, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (!r.timedOut) {
    if (WIFEXITED(status)) r.exitCode = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.exitCode = 128 + WTERMSIG(status);
  }
  r.out = readAll(outPath_);
  r.err = readAll(errPath_);
  return r;
}

Status probeRuntime(const std::string& name, const stdfs::path& workDir) {
  TRY_ASSIGN(Runtime rt, Runtime::find(name, workDir));
  TRY_ASSIGN(Bundle bundle, Bundle::copyPrebuilt(workDir / "probe-bundle"));
  bundle.setHelperArgs({});
  TRY(bundle.save());
  std::string id = "probe-" + std::to_string(::getpid());
  RunResult r = rt.run({"run", "--bundle", bundle.dir().string(), id}, 20s);
  rt.run({"delete", "--force", id}, 10s);
  if (r.exitCode != 0) {
    return Error::make("'{} run' on the helper bundle failed: {}", name, r.describe());
  }
  auto report = parseReport(r.out);
  if (!report) {
    return Error::make("'{} run' printed no helper report: {}", name, r.describe());
  }
  if (report->pid != 1) {
    return Error::make("'{} run': helper reports pid {}, not 1", name, report->pid);
  }
  return ok();
}

}  // namespace nucleo::itest
