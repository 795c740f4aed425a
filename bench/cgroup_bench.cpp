// nucleo-bench-cgroup: what cgroup set-up adds to `run` of /bin/true (no
// limits vs memory+cpu+pids limits), under nucleo and crun in turn in the same
// run, and the cost of reading one container's full statistics.
//
//   nucleo-bench-cgroup --nucleo build/bin/nucleo [--crun /usr/bin/crun] [--runc PATH]
//                       [--bundle DIR] [--runs N] [--stats-reads N]
// Needs root; exits 77 (skip) without it.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "bench/bench_util.hpp"
#include "linux/cgroup.hpp"
#include "linux/cgroup_stats.hpp"

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace nucleo;
using bench::percentile;
using bench::timed;

namespace {

struct Options {
  std::string nucleo, crun = "/usr/bin/crun", runc = "/usr/sbin/runc",
                      bundle = NUCLEO_TEST_BUNDLE;
  int runs = 20, statsReads = 1000;
};

// A copy of the bundle's config running /bin/true, with or without limits.
Status writeBundle(const std::string& src, const std::string& dir, bool limits) {
  return bench::writeTrueBundle(src, dir, [limits](json::object& top) {
    json::object& lnx = top["linux"].as_object();
    json::object resources;
    if (lnx.contains("resources")) resources = lnx["resources"].as_object();
    if (limits) {
      resources["memory"] = {{"limit", 64 << 20}};
      resources["cpu"] = {{"quota", 50000}, {"period", 100000}};
      resources["pids"] = {{"limit", 64}};
    }
    lnx["resources"] = resources;
  });
}

void runBench(const Options& o, const std::string& tmp) {
  struct Runtime { std::string name, bin; };
  std::vector<Runtime> runtimes;
  // One untimed run each: a runtime that cannot run the bundle here (crun
  // refuses hybrid hosts whose cgroup2 holds a controller) is left out, with
  // its own words.
  for (Runtime rt : {Runtime{"nucleo", o.nucleo}, Runtime{"crun", o.crun},
                     Runtime{"runc", o.runc}}) {
    if (::access(rt.bin.c_str(), X_OK) != 0) {
      std::printf("%s left out: %s not executable\n", rt.name.c_str(), rt.bin.c_str());
      continue;
    }
    std::string err = tmp + "/probe-" + rt.name + ".err";
    if (timed({rt.bin, "--root", tmp + "/root-" + rt.name, "run", "--bundle",
               tmp + "/bundle-limits", "cgbench-probe-" + rt.name}, err) < 0) {
      Result<std::string> why = fs::readFile(err);
      std::printf("%s left out: run failed: %s\n", rt.name.c_str(),
                  why ? why->c_str() : "?");
      continue;
    }
    runtimes.push_back(rt);
  }
  const char* configs[] = {"none", "limits"};
  std::map<std::string, std::vector<double>> series;
  std::map<std::string, int> fails;
  for (int i = 0; i < o.runs + 2; ++i) {  // the first two rounds warm up
    for (const auto& rt : runtimes) {
      for (const char* cfg : configs) {
        std::string id = "cgbench-" + rt.name + "-" + cfg + "-" + std::to_string(i);
        double ms = timed({rt.bin, "--root", tmp + "/root-" + rt.name, "run", "--bundle",
                           tmp + "/bundle-" + cfg, id});
        if (i < 2) continue;
        std::string key = rt.name + " " + cfg;
        if (ms < 0) ++fails[key]; else series[key].push_back(ms);
      }
    }
  }
  std::printf("== run of /bin/true, %d runs each, runtimes and configs taken in turn\n",
              o.runs);
  std::printf("%-8s %-7s %5s %9s %9s\n", "runtime", "config", "fail", "med ms", "p90 ms");
  for (const auto& rt : runtimes) {
    for (const char* cfg : configs) {
      const auto& s = series[rt.name + " " + cfg];
      std::printf("%-8s %-7s %5d %9.2f %9.2f\n", rt.name.c_str(), cfg,
                  fails[rt.name + " " + cfg], percentile(s, 0.5), percentile(s, 0.9));
    }
    std::printf("%-8s limits - none: %+.2f ms (medians)\n", rt.name.c_str(),
                percentile(series[rt.name + " limits"], 0.5) -
                    percentile(series[rt.name + " none"], 0.5));
  }
}

int statsBench(const Options& o) {
  auto layout = os::CgroupLayout::detect();
  if (!layout) return std::printf("stats: %s\n", layout.error().message.c_str()), 1;
  std::string path = "/nucleo-bench-" + std::to_string(::getpid());
  auto cg = os::Cgroup::create(*layout, path + "/c");
  if (!cg) return std::printf("stats: %s\n", cg.error().message.c_str()), 1;
  os::CgroupLimits limits;
  limits.memoryLimit = 64 << 20;
  limits.pidsLimit = 64;
  (void)cg->apply(limits);
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  (void)cg->addProcess(child);
  std::vector<double> us;
  for (int i = 0; i < o.statsReads; ++i) {
    auto start = Clock::now();
    auto stats = os::readCgroupStats(*cg);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!stats) return std::printf("stats: %s\n", stats.error().message.c_str()), 1;
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  (void)cg->destroy();
  if (auto parent = os::Cgroup::open(*layout, path)) (void)parent->destroy();
  std::printf("== full statistics of one cgroup (%s layout), %d reads\n",
              layout->mode == os::CgroupLayout::Mode::Unified ? "unified" : "hybrid/legacy",
              o.statsReads);
  std::printf("readCgroupStats: median %.1f us, p99 %.1f us (target <= 1000 us)\n",
              percentile(us, 0.5), percentile(us, 0.99));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  auto text = [](std::string& out) { return [&out](const std::string& v) { out = v; }; };
  auto number = [](int& out) { return [&out](const std::string& v) { out = std::stoi(v); }; };
  if (!bench::parseFlags(argc, argv, {{"--nucleo", text(o.nucleo)}, {"--crun", text(o.crun)},
                                      {"--runc", text(o.runc)}, {"--bundle", text(o.bundle)},
                                      {"--runs", number(o.runs)},
                                      {"--stats-reads", number(o.statsReads)}}))
    return 2;
  if (::geteuid() != 0) return std::printf("skipped: needs root\n"), 77;
  if (o.nucleo.empty()) return std::fprintf(stderr, "--nucleo PATH is required\n"), 2;
  std::string bundle = std::filesystem::absolute(o.bundle).lexically_normal().string();
  char tmpl[] = "/tmp/nucleo-cgbench-XXXXXX";
  std::string tmp = ::mkdtemp(tmpl);
  bench::hideHybridControllers(tmp);
  for (bool limits : {false, true}) {
    Status written = writeBundle(bundle, tmp + (limits ? "/bundle-limits" : "/bundle-none"),
                                 limits);
    if (!written) return std::printf("bundle: %s\n", written.error().message.c_str()), 1;
  }
  runBench(o, tmp);
  int rc = statsBench(o);
  (void)fs::removeAll(tmp);
  return rc;
}
