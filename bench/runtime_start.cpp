// nucleo-bench-start: how long `run` of /bin/true takes under nucleo, crun and
// runc, taken in turn (A B C A B C ...) so that drift in machine load falls on
// all three alike. Each run is a fresh container id; each runtime has its own
// --root. Per run: wall time around fork+exec+wait4, CPU time (user+sys) and
// peak RSS from wait4's rusage, which covers the descendants the runtime reaped.
//
// Exit codes: 0 tables printed, 1 error, 77 skipped (not root, no bundle).

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/result.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"

#ifndef NUCLEO_TEST_BUNDLE
#define NUCLEO_TEST_BUNDLE ""
#endif

namespace nucleo::bench {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using strings::join;
using strings::split;
using strings::toInt;
using strings::trim;

constexpr int kSkip = 77;
constexpr const char* kSeccompProfile = "/usr/share/containers/seccomp.json";
constexpr const char* kHybridControllers = "/sys/fs/cgroup/unified/cgroup.controllers";

struct Options {
  stdfs::path nucleo;
  stdfs::path bundle = NUCLEO_TEST_BUNDLE;
  int runs = 200;
  bool keep = false;  // leave the tmpdir (variant bundles) for inspection
};

struct Runtime {
  std::string name;
  std::string binary;
  std::string root;     // --root, one per runtime
  std::string version;  // first line of --version
  bool usable = false;
};

struct Sample {
  bool ok = false;
  double wallMs = 0;
  double cpuMs = 0;
  long maxRssKb = 0;
};

struct Variant {
  std::string title;
  std::string bundle;
};

// ---------------------------------------------------------------------------
// Processes

struct Spawned {
  int exitCode = -1;  // 128+signal when killed
  Sample sample;
};

double msBetween(const timespec& a, const timespec& b) {
  return double(b.tv_sec - a.tv_sec) * 1e3 + double(b.tv_nsec - a.tv_nsec) / 1e6;
}

double tvMs(const timeval& tv) { return double(tv.tv_sec) * 1e3 + double(tv.tv_usec) / 1e3; }

// Runs argv with stdin from /dev/null and stdout/stderr on the given fds, and
// measures it. Only async-signal-safe calls between fork and exec.
Result<Spawned> spawnAndWait(const std::vector<std::string>& args, int outFd, int errFd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devNull < 0) return Error::fromErrno("open /dev/null");

  timespec start{}, end{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(devNull);
    return Error::fromErrno("fork");
  }
  if (pid == 0) {
    if (::dup2(devNull, 0) < 0 || ::dup2(outFd, 1) < 0 || ::dup2(errFd, 2) < 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  rusage ru{};
  pid_t got;
  do {
    got = ::wait4(pid, &status, 0, &ru);
  } while (got < 0 && errno == EINTR);
  ::clock_gettime(CLOCK_MONOTONIC, &end);
  ::close(devNull);
  if (got < 0) return Error::fromErrno("wait4");

  Spawned s;
  s.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  s.sample.ok = s.exitCode == 0;
  s.sample.wallMs = msBetween(start, end);
  s.sample.cpuMs = tvMs(ru.ru_utime) + tvMs(ru.ru_stime);
  s.sample.maxRssKb = ru.ru_maxrss;
  return s;
}

// Runs argv, returns its exit code and its stdout+stderr (for versions and for
// the error a runtime prints when its check fails).
Result<std::pair<int, std::string>> capture(const std::vector<std::string>& args,
                                            const std::string& scratch) {
  TRY_ASSIGN(UniqueFd fd, UniqueFd::open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600));
  TRY_ASSIGN(Spawned s, spawnAndWait(args, fd.get(), fd.get()));
  auto text = fs::readFile(scratch);
  return std::pair<int, std::string>{s.exitCode, text ? *text : std::string()};
}

std::string firstLine(const std::string& text) {
  std::string line(trim(text.substr(0, text.find('\n'))));
  return line.empty() ? "(no output)" : line;
}

std::string lastLines(const std::string& text, size_t n) {
  auto lines = split(std::string(trim(text)), '\n', true);
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - long(n));
  return join(lines, " | ");
}

// ---------------------------------------------------------------------------
// Environment

// A private mount namespace for this process and every runtime it starts:
// crun 1.8 refuses hybrid cgroups, so the unified hierarchy's controller list
// is hidden behind an empty file. The host's mounts are not touched.
Status enterBenchNamespace(const std::string& tmpdir, std::string& note) {
  if (::unshare(CLONE_NEWNS) != 0) return Error::fromErrno("unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Error::fromErrno("make / rprivate");
  }
  struct statfs st {};
  bool hybrid = ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type != CGROUP2_SUPER_MAGIC &&
                ::access(kHybridControllers, F_OK) == 0;
  if (!hybrid) {
    note = "cgroups: not hybrid, nothing hidden";
    return ok();
  }
  std::string empty = tmpdir + "/empty-cgroup.controllers";
  TRY(fs::writeFileAtomic(empty, ""));
  if (::mount(empty.c_str(), kHybridControllers, nullptr, MS_BIND, nullptr) != 0) {
    return Error::fromErrno(fmt::format("bind {} over {}", empty, kHybridControllers));
  }
  note = fmt::format("cgroups: hybrid; {} hidden (empty file) in the bench's own mount "
                     "namespace, for all three runtimes",
                     kHybridControllers);
  return ok();
}

void printHost(const std::vector<Runtime>& runtimes, int runs, const std::string& note) {
  utsname u{};
  ::uname(&u);
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  fmt::print("kernel:   {} {} ({})\n", u.sysname, u.release, u.machine);
  fmt::print("cpus:     {} online\n", ::sysconf(_SC_NPROCESSORS_ONLN));
  fmt::print("load:     {:.2f} {:.2f} {:.2f}\n", load[0], load[1], load[2]);
  for (const auto& rt : runtimes) {
    fmt::print("{:<9} {} ({})\n", rt.name + ":", rt.version, rt.binary);
  }
  fmt::print("{}\n", note);
  fmt::print("runs:     {} per runtime per variant, taken in turn\n\n", runs);
}

std::string findInPath(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin",
                          "/bin", "/sbin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "/usr/bin/" + name;
}

// ---------------------------------------------------------------------------
// Bundles

Result<json::value> parseJsonFile(const std::string& path) {
  TRY_ASSIGN(std::string text, fs::readFile(path));
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Error::make("parse {}: {}", path, ec.message());
  if (!v.is_object()) return Error::make("parse {}: not a JSON object", path);
  return v;
}

json::object& objectAt(json::object& parent, std::string_view key) {
  json::value& v = parent[key];
  if (!v.is_object()) v = json::object();
  return v.get_object();
}

bool containsString(const json::value* list, std::string_view s) {
  if (list == nullptr || !list->is_array()) return false;
  for (const auto& e : list->get_array()) {
    if (e.is_string() && e.get_string() == s) return true;
  }
  return false;
}

bool anyIn(const json::value* list, const json::value* set) {
  if (list == nullptr || !list->is_array()) return false;
  for (const auto& e : list->get_array()) {
    if (e.is_string() && containsString(set, e.get_string())) return true;
  }
  return false;
}

bool allIn(const json::value* list, const json::value* set) {
  if (list == nullptr || !list->is_array()) return true;
  for (const auto& e : list->get_array()) {
    if (!e.is_string() || !containsString(set, e.get_string())) return false;
  }
  return true;
}

// Whether a containers-common rule applies to an amd64 container with the
// given bounding set ("includes" must all hold, no "excludes" may).
bool ruleApplies(const json::object& rule, const json::value* bounding) {
  static const json::value native = json::array{"amd64"};
  const json::object empty;
  const json::value* inc = rule.if_contains("includes");
  const json::value* exc = rule.if_contains("excludes");
  const json::object& in = inc && inc->is_object() ? inc->get_object() : empty;
  const json::object& ex = exc && exc->is_object() ? exc->get_object() : empty;
  if (const json::value* arches = in.if_contains("arches");
      arches && arches->is_array() && !arches->get_array().empty() &&
      !containsString(arches, "amd64")) {
    return false;
  }
  if (!allIn(in.if_contains("caps"), bounding)) return false;
  if (anyIn(ex.if_contains("caps"), bounding)) return false;
  if (anyIn(ex.if_contains("arches"), &native)) return false;
  return true;
}

// Converts containers-common's seccomp.json (a Docker-style profile with
// archMap and includes/excludes) into OCI linux.seccomp the way podman does:
// native architecture plus its sub-architectures, rules filtered by the
// process's bounding capabilities.
Result<json::object> ociSeccomp(const json::object& profile, const json::value* bounding) {
  json::object out;
  if (const auto* a = profile.if_contains("defaultAction")) out["defaultAction"] = *a;
  if (const auto* e = profile.if_contains("defaultErrnoRet")) out["defaultErrnoRet"] = *e;
  json::array arches;
  if (const auto* map = profile.if_contains("archMap"); map && map->is_array()) {
    for (const auto& m : map->get_array()) {
      const auto* mo = m.if_object();
      if (!mo || !mo->contains("architecture")) continue;
      if (mo->at("architecture") != "SCMP_ARCH_X86_64") continue;
      arches.push_back(mo->at("architecture"));
      if (const auto* subs = mo->if_contains("subArchitectures"); subs && subs->is_array()) {
        for (const auto& s : subs->get_array()) arches.push_back(s);
      }
    }
  }
  if (!arches.empty()) out["architectures"] = std::move(arches);
  json::array rules;
  const auto* syscalls = profile.if_contains("syscalls");
  if (!syscalls || !syscalls->is_array()) return Error::make("{}: no syscalls array", kSeccompProfile);
  for (const auto& r : syscalls->get_array()) {
    const auto* ro = r.if_object();
    if (!ro || !ruleApplies(*ro, bounding)) continue;
    json::object rule;
    for (const char* key : {"names", "action", "errnoRet"}) {
      if (const auto* v = ro->if_contains(key)) rule[key] = *v;
    }
    if (const auto* args = ro->if_contains("args"); args && args->is_array() &&
                                                    !args->get_array().empty()) {
      rule["args"] = *args;
    }
    rules.push_back(std::move(rule));
  }
  out["syscalls"] = std::move(rules);
  return out;
}

enum class Extra { kNone, kSeccomp, kResources };

// Writes <dir>/config.json: the bundle's config running /bin/true without a
// terminal, root.path absolute (the original rootfs), plus the variant's extra.
Status writeVariantBundle(const json::value& base, const std::string& rootfs,
                          const std::string& dir, Extra extra,
                          const json::object* seccomp) {
  json::value cfg = base;
  json::object& top = cfg.get_object();
  json::object& process = objectAt(top, "process");
  process["args"] = json::array{"/bin/true"};
  process["terminal"] = false;
  objectAt(top, "root")["path"] = rootfs;
  json::object& lnx = objectAt(top, "linux");
  if (extra == Extra::kSeccomp && seccomp != nullptr) lnx["seccomp"] = *seccomp;
  if (extra == Extra::kResources) {
    json::object& res = objectAt(lnx, "resources");
    objectAt(res, "memory")["limit"] = 64 * 1024 * 1024;
    objectAt(res, "pids")["limit"] = 64;
  }
  TRY(fs::makeDirs(dir, 0755));
  return fs::writeFileAtomic(dir + "/config.json", json::serialize(cfg));
}

// Builds the three variant bundles; the seccomp one is left out, with the
// reason printed, when the profile is absent or unreadable.
Result<std::vector<Variant>> makeVariants(const Options& opt, const std::string& tmpdir) {
  std::string bundle = stdfs::absolute(opt.bundle).lexically_normal().string();
  TRY_ASSIGN(json::value base, parseJsonFile(bundle + "/config.json"));
  std::string rootfs = bundle + "/rootfs";
  if (const auto* root = base.get_object().if_contains("root"); root && root->is_object()) {
    if (const auto* p = root->get_object().if_contains("path"); p && p->is_string()) {
      stdfs::path rp(std::string(p->get_string()));
      rootfs = (rp.is_absolute() ? rp : stdfs::path(bundle) / rp).lexically_normal().string();
    }
  }
  std::vector<Variant> out;
  std::string dir = tmpdir + "/bundle-default";
  TRY(writeVariantBundle(base, rootfs, dir, Extra::kNone, nullptr));
  out.push_back({"(1) default config: /bin/true, terminal false", dir});

  if (::access(kSeccompProfile, R_OK) != 0) {
    fmt::print("variant (2) skipped: {} absent (package golang-github-containers-common)\n\n",
               kSeccompProfile);
  } else if (auto profile = parseJsonFile(kSeccompProfile); !profile) {
    fmt::print("variant (2) skipped: {}\n\n", profile.error().message);
  } else {
    const json::value* bounding = nullptr;
    if (const auto* caps = base.get_object().if_contains("process")) {
      if (caps->is_object() && caps->get_object().contains("capabilities")) {
        const auto& c = caps->get_object().at("capabilities");
        if (c.is_object()) bounding = c.get_object().if_contains("bounding");
      }
    }
    TRY_ASSIGN(json::object seccomp, ociSeccomp(profile->get_object(), bounding));
    dir = tmpdir + "/bundle-seccomp";
    TRY(writeVariantBundle(base, rootfs, dir, Extra::kSeccomp, &seccomp));
    out.push_back({fmt::format("(2) + default seccomp profile ({}, {} rules)", kSeccompProfile,
                               seccomp.at("syscalls").get_array().size()),
                   dir});
  }
  dir = tmpdir + "/bundle-resources";
  TRY(writeVariantBundle(base, rootfs, dir, Extra::kResources, nullptr));
  out.push_back({"(3) + linux.resources: memory limit 64 MiB, pids limit 64", dir});
  return out;
}

// ---------------------------------------------------------------------------
// Measuring

std::vector<std::string> runArgs(const Runtime& rt, const std::string& bundle,
                                 const std::string& id) {
  return {rt.binary, "--root", rt.root, "run", "--bundle", bundle, id};
}

// Best effort: a run that failed may leave its container (and cgroups) behind.
void forceDelete(const Runtime& rt, const std::string& id, const std::string& scratch) {
  (void)capture({rt.binary, "--root", rt.root, "delete", "--force", id}, scratch);
}

// One untimed run; a runtime that cannot run /bin/true is reported, not timed.
void checkRuntime(Runtime& rt, const std::string& bundle, const std::string& tmpdir) {
  std::string scratch = tmpdir + "/check-" + rt.name + ".out";
  if (::access(rt.binary.c_str(), X_OK) != 0) {
    fmt::print("{}: left out: {} is not an executable\n", rt.name, rt.binary);
    return;
  }
  std::string id = "bench-check-" + rt.name + "-" + std::to_string(::getpid());
  auto res = capture(runArgs(rt, bundle, id), scratch);
  if (!res) {
    fmt::print("{}: left out: {}\n", rt.name, res.error().message);
  } else if (res->first != 0) {
    fmt::print("{}: left out: `run` of /bin/true exited {}: {}\n", rt.name, res->first,
               lastLines(res->second, 3));
    forceDelete(rt, id, scratch);
  } else {
    rt.usable = true;
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = p * double(v.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

struct Series {
  std::vector<Sample> samples;  // index = round
  int failures = 0;
  std::string lastError;
};

// Runs every usable runtime once per round, in turn, for `runs` rounds.
Result<std::vector<Series>> measure(const std::vector<Runtime>& rts, const Variant& v,
                                    int runs, const std::string& tmpdir, int variantNo) {
  std::vector<Series> series(rts.size());
  std::string errPath = tmpdir + "/run.err";
  TRY_ASSIGN(UniqueFd devNull, UniqueFd::open("/dev/null", O_WRONLY));
  for (int round = 0; round < runs; ++round) {
    for (size_t i = 0; i < rts.size(); ++i) {
      if (!rts[i].usable) continue;
      std::string id = fmt::format("bench-{}-v{}-{}-{}", ::getpid(), variantNo, rts[i].name, round);
      TRY_ASSIGN(UniqueFd err, UniqueFd::open(errPath, O_RDWR | O_CREAT | O_TRUNC, 0600));
      TRY_ASSIGN(Spawned s, spawnAndWait(runArgs(rts[i], v.bundle, id), devNull.get(), err.get()));
      series[i].samples.push_back(s.sample);
      if (!s.sample.ok) {
        ++series[i].failures;
        auto text = fs::readFile(errPath);
        series[i].lastError = fmt::format("exit {}: {}", s.exitCode,
                                          lastLines(text ? *text : "", 2));
        forceDelete(rts[i], id, tmpdir + "/delete.out");
      }
    }
  }
  return series;
}

std::vector<double> okValues(const Series& s, bool wall) {
  std::vector<double> out;
  for (const auto& x : s.samples) {
    if (x.ok) out.push_back(wall ? x.wallMs : x.cpuMs);
  }
  return out;
}

// Median of per-round ratios a/b, over rounds where both runs succeeded.
std::optional<double> pairedRatio(const Series& a, const Series& b, bool wall, size_t* n) {
  std::vector<double> r;
  for (size_t i = 0; i < std::min(a.samples.size(), b.samples.size()); ++i) {
    const Sample& x = a.samples[i];
    const Sample& y = b.samples[i];
    double den = wall ? y.wallMs : y.cpuMs;
    if (x.ok && y.ok && den > 0) r.push_back((wall ? x.wallMs : x.cpuMs) / den);
  }
  *n = r.size();
  if (r.empty()) return std::nullopt;
  return percentile(r, 0.5);
}

void printRatios(const std::vector<Runtime>& rts, const std::vector<Series>& series) {
  if (rts.empty() || rts[0].name != "nucleo" || !rts[0].usable) return;
  for (size_t i = 1; i < rts.size(); ++i) {
    if (!rts[i].usable) continue;
    size_t n = 0, m = 0;
    auto wall = pairedRatio(series[0], series[i], true, &n);
    auto cpu = pairedRatio(series[0], series[i], false, &m);
    if (!wall) continue;
    double medA = percentile(okValues(series[0], true), 0.5);
    double medB = percentile(okValues(series[i], true), 0.5);
    fmt::print("nucleo/{:<5} wall x{:.3f}  cpu x{:.3f}   (median of {} per-round ratios; "
               "ratio of wall medians x{:.3f})\n",
               rts[i].name, *wall, cpu.value_or(0), n, medB > 0 ? medA / medB : 0.0);
  }
}

void printTable(const Variant& v, const std::vector<Runtime>& rts,
                const std::vector<Series>& series) {
  fmt::print("== variant {}\n", v.title);
  fmt::print("{:<8} {:>5} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "runtime", "runs", "fail",
             "wall med", "wall p90", "cpu med", "cpu p90", "peak RSS");
  for (size_t i = 0; i < rts.size(); ++i) {
    if (!rts[i].usable) continue;
    const Series& s = series[i];
    auto wall = okValues(s, true);
    auto cpu = okValues(s, false);
    long rss = 0;
    for (const auto& x : s.samples) rss = std::max(rss, x.maxRssKb);
    fmt::print("{:<8} {:>5} {:>5} {:>7.2f} ms {:>7.2f} ms {:>7.2f} ms {:>7.2f} ms {:>6.1f} MiB\n",
               rts[i].name, s.samples.size(), s.failures, percentile(wall, 0.5),
               percentile(wall, 0.9), percentile(cpu, 0.5), percentile(cpu, 0.9),
               double(rss) / 1024.0);
    if (s.failures > 0) fmt::print("         last failure: {}\n", s.lastError);
  }
  printRatios(rts, series);
  fmt::print("\n");
}

// ---------------------------------------------------------------------------
// Main

void usage() {
  fmt::print(
      "usage: nucleo-bench-start [--nucleo PATH] [--runs N] [--quick] [--bundle DIR]\n"
      "  --nucleo PATH  nucleo binary (default: nucleo next to this program)\n"
      "  --runs N       runs per runtime per variant (default 200)\n"
      "  --quick        20 runs (unless --runs is given)\n"
      "  --bundle DIR   OCI bundle with config.json and rootfs/ (default: the build's\n"
      "                 busybox bundle)\n"
      "  --keep         keep the tmpdir (variant bundles) and print its path\n");
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options opt;
  std::error_code ec;
  opt.nucleo = stdfs::read_symlink("/proc/self/exe", ec).parent_path() / "nucleo";
  bool quick = false;
  std::optional<int> runs;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    bool hasValue = i + 1 < argc;
    if (a == "--quick") {
      quick = true;
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--runs" && hasValue) {
      auto n = toInt(argv[++i]);
      if (!n || *n < 1 || *n > 1000000) return std::nullopt;
      runs = int(*n);
    } else if (a == "--nucleo" && hasValue) {
      opt.nucleo = argv[++i];
    } else if (a == "--bundle" && hasValue) {
      opt.bundle = argv[++i];
    } else {
      return std::nullopt;
    }
  }
  opt.runs = runs ? *runs : (quick ? 20 : 200);
  return opt;
}

int runBench(const Options& opt) {
  char tmpl[] = "/tmp/nucleo-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    fmt::print(stderr, "nucleo-bench-start: mkdtemp: {}\n", std::strerror(errno));
    return 1;
  }
  std::string tmpdir = tmpl;
  std::string note;
  if (auto st = enterBenchNamespace(tmpdir, note); !st) {
    fmt::print(stderr, "nucleo-bench-start: {}\n", st.error().message);
    (void)fs::removeAll(tmpdir);
    return 1;
  }
  std::vector<Runtime> rts = {{"nucleo", opt.nucleo.string(), tmpdir + "/root-nucleo", "", false},
                              {"crun", findInPath("crun"), tmpdir + "/root-crun", "", false},
                              {"runc", findInPath("runc"), tmpdir + "/root-runc", "", false}};
  for (auto& rt : rts) {
    (void)fs::makeDirs(rt.root, 0700);
    auto v = ::access(rt.binary.c_str(), X_OK) == 0
                 ? capture({rt.binary, "--version"}, tmpdir + "/version.out")
                 : Result<std::pair<int, std::string>>(Error::make("not found"));
    rt.version = v ? firstLine(v->second) : "(" + v.error().message + ")";
  }
  printHost(rts, opt.runs, note);

  int rc = 0;
  auto variants = makeVariants(opt, tmpdir);
  if (!variants) {
    fmt::print(stderr, "nucleo-bench-start: {}\n", variants.error().message);
    rc = 1;
  } else {
    for (auto& rt : rts) checkRuntime(rt, variants->front().bundle, tmpdir);
    if (std::none_of(rts.begin(), rts.end(), [](const Runtime& r) { return r.usable; })) {
      fmt::print(stderr, "nucleo-bench-start: no runtime could run /bin/true\n");
      rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < variants->size(); ++i) {
      auto series = measure(rts, (*variants)[i], opt.runs, tmpdir, int(i + 1));
      if (!series) {
        fmt::print(stderr, "nucleo-bench-start: {}\n", series.error().message);
        rc = 1;
        break;
      }
      printTable((*variants)[i], rts, *series);
      std::fflush(stdout);
    }
  }
  // The bind mount dies with this process's mount namespace.
  if (opt.keep) {
    fmt::print("kept {}\n", tmpdir);
  } else {
    (void)fs::removeAll(tmpdir);
  }
  return rc;
}

}  // namespace
}  // namespace nucleo::bench

int main(int argc, char** argv) {
  using namespace nucleo::bench;
  auto opt = parseArgs(argc, argv);
  if (!opt) {
    usage();
    return 2;
  }
  if (::geteuid() != 0) {
    fmt::print("SKIP: nucleo-bench-start needs root (namespaces, cgroups, runtimes)\n");
    return kSkip;
  }
  if (opt->bundle.empty() || ::access((opt->bundle / "config.json").c_str(), R_OK) != 0 ||
      ::access((opt->bundle / "rootfs").c_str(), X_OK) != 0) {
    fmt::print("SKIP: no OCI bundle at '{}' (build the test-bundle target)\n",
               opt->bundle.string());
    return kSkip;
  }
  return runBench(*opt);
}
