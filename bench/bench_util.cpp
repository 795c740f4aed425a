#include "bench/bench_util.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "base/fs.hpp"

namespace nucleo::bench {

namespace json = boost::json;

double timed(const std::vector<std::string>& args, const std::string& errFile) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    if (!errFile.empty()) {
      int err = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) ::dup2(err, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

bool parseFlags(int argc, char** argv, const FlagSetters& setters) {
  for (int i = 1; i + 1 < argc; i += 2) {
    auto setter = setters.find(argv[i]);
    if (setter == setters.end()) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return false;
    }
    setter->second(argv[i + 1]);
  }
  return true;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(p * static_cast<double>(values.size()));
  return values[std::min(values.size() - 1, rank)];
}

namespace detail {

Result<json::value> trueBundleConfig(const std::string& src) {
  TRY_ASSIGN(std::string text, fs::readFile(src + "/config.json"));
  try {
    json::value config = json::parse(text);
    json::object& top = config.as_object();
    top["process"].as_object()["args"] = json::array{"/bin/true"};
    top["process"].as_object()["terminal"] = false;
    top["root"].as_object()["path"] = src + "/rootfs";
    return config;
  } catch (const std::exception& e) {
    return Error::make("bundle config {}/config.json: {}", src, e.what());
  }
}

Status writeBundleConfig(const std::string& dir, const json::value& config) {
  TRY(fs::makeDirs(dir));
  return fs::writeFileAtomic(dir + "/config.json", json::serialize(config));
}

}  // namespace detail

void hideHybridControllers(const std::string& tmp) {
  const char* controllers = "/sys/fs/cgroup/unified/cgroup.controllers";
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::access(controllers, F_OK) != 0)
    return;
  std::string empty = tmp + "/empty-cgroup.controllers";
  if (fs::writeFileAtomic(empty, "") &&
      ::mount(empty.c_str(), controllers, nullptr, MS_BIND, nullptr) == 0)
    std::printf("hybrid host: cgroup.controllers of the unified mount hidden for all runtimes\n");
}

}  // namespace nucleo::bench
