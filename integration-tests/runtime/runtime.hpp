#pragma once
// Runs an OCI runtime binary (crun, runc or nucleo) the way a user would:
// `<runtime> --root <private state dir> <args...>`, stdin from /dev/null,
// stdout and stderr captured, with a timeout.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::itest {

using namespace std::chrono_literals;

// What one runtime invocation did.
struct RunResult {
  // Exit status; 128+N when killed by signal N (like a shell), -1 on timeout.
  int exitCode = -1;
  bool timedOut = false;
  std::string out;
  std::string err;

  // "exit 1, stderr: ..." for assertion messages.
  std::string describe() const;
};

// A runtime started in the background (e.g. a foreground `run` that a test
// signals). The destructor SIGKILLs the process group if it still runs.
class RuntimeProcess {
 public:
  RuntimeProcess(RuntimeProcess&& other) noexcept;
  RuntimeProcess& operator=(RuntimeProcess&&) = delete;
  ~RuntimeProcess();

  // Waits for exit; on timeout kills the process group and sets timedOut.
  RunResult wait(std::chrono::milliseconds timeout);
  // The runtime's stdout so far: the container's output when it inherits it.
  std::string outSoFar() const;

 private:
  friend class Runtime;
  RuntimeProcess(pid_t pid, int pidfd, std::filesystem::path out,
                 std::filesystem::path err)
      : pid_(pid), pidfd_(pidfd), outPath_(std::move(out)), errPath_(std::move(err)) {}

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::filesystem::path outPath_;
  std::filesystem::path errPath_;
};

class Runtime {
 public:
  // Finds `name`: "crun" and "runc" on PATH, "nucleo" at NUCLEO_BIN_DIR/nucleo.
  // State goes to workDir/root (created). Errors if the binary is missing.
  static Result<Runtime> find(const std::string& name,
                              const std::filesystem::path& workDir);

  const std::string& name() const { return name_; }
  const std::filesystem::path& binary() const { return binary_; }
  const std::filesystem::path& root() const { return root_; }

  // Starts `<runtime> --root ROOT args...`. Output goes to files in workDir,
  // so a container that inherits stdout never blocks the test.
  Result<RuntimeProcess> start(const std::vector<std::string>& args) const;
  // start() + wait(); a failure to fork shows as exitCode -1 with err set.
  RunResult run(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = 30s) const;

 private:
  Runtime(std::string name, std::filesystem::path binary,
          std::filesystem::path workDir);
  std::vector<std::string> command(const std::vector<std::string>& args) const;

  std::string name_;
  std::filesystem::path binary_;
  std::filesystem::path workDir_;
  std::filesystem::path root_;
  // crun 1.8 refuses a v1/v2 hybrid host; it runs in a private mount
  // namespace where the hybrid's cgroup.controllers is an empty file.
  bool hideHybridCgroup_ = false;
};

// True when /sys/fs/cgroup is a v1 tmpfs with a cgroup2 at unified/.
bool hostHasHybridCgroups();

// Runs `name` on a helper bundle copied into workDir and checks that the
// helper's report came back with pid 1: whether tests can use the runtime.
// The error says why not (for a GTEST_SKIP message).
Status probeRuntime(const std::string& name, const std::filesystem::path& workDir);

}  // namespace nucleo::itest
