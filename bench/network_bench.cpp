// nucleo-bench-network: what each network mode adds to `run` of /bin/true —
// none (loopback up), bridge, bridge + a published port, a CNI bridge — beside
// the host's network, and crun with and without a network namespace, all
// taken in turn in the same run.
//
//   nucleo-bench-network --nucleo build/bin/nucleo [--crun /usr/bin/crun]
//                        [--bundle DIR] [--runs N] [--cni-plugin-dir DIR]
// Needs root; exits 77 (skip) without it. Everything happens in a network
// namespace of its own (the bridge, veths, nft table, iptables rules) and a
// private mount namespace, so the host's network and mounts are untouched.

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "bench/bench_util.hpp"

namespace json = boost::json;
using namespace nucleo;
using bench::percentile;
using bench::timed;

namespace {

struct Options {
  std::string nucleo, crun = "/usr/bin/crun", bundle = NUCLEO_TEST_BUNDLE;
  std::string cniPlugins = "/usr/lib/cni";
  int runs = 20;
};

// The bundle running /bin/true, with or without a network namespace.
Status writeBundle(const std::string& src, const std::string& dir, bool netns) {
  return bench::writeTrueBundle(src, dir, [netns](json::object& top) {
    json::array kept;
    for (const auto& ns : top["linux"].as_object()["namespaces"].as_array())
      if (netns || ns.as_object().at("type").as_string() != "network") kept.push_back(ns);
    top["linux"].as_object()["namespaces"] = kept;
  });
}

Status writeCniList(const std::string& dir) {
  json::object bridge{{"type", "bridge"}, {"bridge", "nbcni0"}, {"isGateway", true}, {"ipMasq", true}};
  bridge["ipam"] = json::object{
      {"type", "host-local"},
      {"ranges", json::array{json::array{json::object{{"subnet", "10.234.0.0/24"}}}}},
      {"dataDir", dir + "/ipam"}};
  json::object list{{"cniVersion", "1.0.0"}, {"name", "nbnet"}};
  list["plugins"] = json::array{bridge, json::object{{"type", "loopback"}}};
  TRY(fs::makeDirs(dir));
  return fs::writeFileAtomic(dir + "/10-nbnet.conflist", json::serialize(list));
}

struct Variant {
  std::string name;
  std::vector<std::string> argv;  // before the container id
};

std::vector<Variant> variants(const Options& o, const std::string& tmp) {
  std::string root = tmp + "/root-nucleo", crunRoot = tmp + "/root-crun";
  std::vector<std::string> bridge = {"--network", "bridge", "--bridge", "nbbr0", "--subnet",
                                     "10.233.0.0/24", "--nft-table", "nbench",
                                     "--network-state", tmp + "/state"};
  auto nucleo = [&](std::vector<std::string> flags, const std::string& bundle) {
    std::vector<std::string> a = {o.nucleo, "--root", root, "run", "--bundle", tmp + "/" + bundle};
    a.insert(a.end(), flags.begin(), flags.end());
    return a;
  };
  auto withPort = bridge;
  withPort.insert(withPort.end(), {"-p", "19080:80"});
  return {
      {"crun host", {o.crun, "--root", crunRoot, "run", "--bundle", tmp + "/bundle-host"}},
      {"crun netns", {o.crun, "--root", crunRoot, "run", "--bundle", tmp + "/bundle-netns"}},
      {"nucleo host", nucleo({}, "bundle-host")},
      {"nucleo none", nucleo({"--network", "none"}, "bundle-netns")},
      {"nucleo bridge", nucleo(bridge, "bundle-netns")},
      {"nucleo bridge+port", nucleo(withPort, "bundle-netns")},
      {"nucleo cni-bridge", nucleo({"--network", "cni:nbnet", "--cni-config-dir", tmp + "/cni",
                                    "--cni-plugin-dir", o.cniPlugins},
                                   "bundle-netns")},
  };
}

void runBench(const Options& o, const std::string& tmp) {
  std::vector<Variant> usable;
  // One untimed run each (it also makes the bridges): a variant that cannot
  // run here is left out, with its own words.
  for (const auto& v : variants(o, tmp)) {
    std::string err = tmp + "/probe.err";
    auto argv = v.argv;
    argv.push_back("nbench-probe");
    if (::access(argv[0].c_str(), X_OK) != 0 || timed(argv, err) < 0) {
      Result<std::string> why = fs::readFile(err);
      std::printf("%s left out: %s\n", v.name.c_str(), why ? why->c_str() : "not executable");
      continue;
    }
    usable.push_back(v);
  }
  std::map<std::string, std::vector<double>> series;
  std::map<std::string, int> fails;
  for (int i = 0; i < o.runs + 2; ++i) {  // the first two rounds warm up
    for (const auto& v : usable) {
      auto argv = v.argv;
      argv.push_back("nbench-" + std::to_string(i));
      double ms = timed(argv);
      if (i < 2) continue;
      if (ms < 0) ++fails[v.name]; else series[v.name].push_back(ms);
    }
  }
  std::printf("== run of /bin/true, %d runs each, variants taken in turn\n", o.runs);
  std::printf("%-20s %5s %9s %9s %14s\n", "runtime network", "fail", "med ms", "p90 ms", "vs host (med)");
  for (const auto& v : usable) {
    std::string base = v.name.starts_with("crun") ? "crun host" : "nucleo host";
    double added = percentile(series[v.name], 0.5) - percentile(series[base], 0.5);
    std::printf("%-20s %5d %9.2f %9.2f %+13.2f\n", v.name.c_str(), fails[v.name],
                percentile(series[v.name], 0.5), percentile(series[v.name], 0.9), added);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  auto text = [](std::string& out) { return [&out](const std::string& v) { out = v; }; };
  if (!bench::parseFlags(argc, argv, {{"--nucleo", text(o.nucleo)}, {"--crun", text(o.crun)},
                                      {"--bundle", text(o.bundle)},
                                      {"--runs", [&o](const std::string& v) { o.runs = std::stoi(v); }},
                                      {"--cni-plugin-dir", text(o.cniPlugins)}}))
    return 2;
  if (::geteuid() != 0) return std::printf("skipped: needs root\n"), 77;
  if (o.nucleo.empty()) return std::fprintf(stderr, "--nucleo PATH is required\n"), 2;
  std::string bundle = std::filesystem::absolute(o.bundle).lexically_normal().string();
  char tmpl[] = "/tmp/nucleo-netbench-XXXXXX";
  std::string tmp = ::mkdtemp(tmpl);
  if (::unshare(CLONE_NEWNET) < 0) return std::printf("unshare(CLONE_NEWNET) failed\n"), 1;
  (void)timed({"/usr/sbin/ip", "link", "set", "lo", "up"});
  bench::hideHybridControllers(tmp);
  for (bool netns : {false, true}) {
    Status written = writeBundle(bundle, tmp + (netns ? "/bundle-netns" : "/bundle-host"), netns);
    if (!written) return std::printf("bundle: %s\n", written.error().message.c_str()), 1;
  }
  if (Status s = writeCniList(tmp + "/cni"); !s) return std::printf("cni: %s\n", s.error().message.c_str()), 1;
  runBench(o, tmp);
  (void)fs::removeAll(tmp);
  return 0;
}
