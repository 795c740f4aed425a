#include "integration-tests/runtime/report.hpp"

#include <unistd.h>

#include <cstdlib>

#include "base/strings.hpp"
#include "integration-tests/runtime/bundle.hpp"

namespace nucleo::itest {

namespace json = boost::json;

Result<Report> parseReport(std::string_view output) {
  for (const auto& line : strings::split(output, '\n', true)) {
    if (!strings::startsWith(line, "{")) continue;
    TRY_ASSIGN(json::value v, parseJson(line, "helper report"));
    if (!v.is_object()) break;
    Report r;
    r.raw = std::move(v.as_object());
    if (auto* pid = r.raw.if_contains("pid"); pid && pid->is_int64()) {
      r.pid = pid->as_int64();
    }
    return r;
  }
  return Error::make("no helper report in output '{}'", output);
}

std::map<std::string, uint64_t> hostNamespaces() {
  std::map<std::string, uint64_t> out;
  for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
    char buf[256];
    std::string path = std::string("/proc/self/ns/") + ns;
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;
    std::string target(buf, static_cast<size_t>(n));
    auto open = target.find('[');
    if (open != std::string::npos) {
      out[ns] = std::strtoull(target.c_str() + open + 1, nullptr, 10);
    }
  }
  return out;
}

std::string jsonText(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

namespace {

std::string text(const json::value& v) { return jsonText(v); }

void flattenObject(const json::object& o, const std::string& prefix, View& out) {
  for (const auto& [k, v] : o) out[prefix + std::string(k)] = text(v);
}

}  // namespace

View flatten(const Report& report, const std::map<std::string, uint64_t>& hostNs,
             const std::set<std::string>& presenceOnly) {
  View out;
  const json::object& r = report.raw;
  for (const char* k : {"pid", "ppid", "uid", "gid", "euid", "egid", "groups",
                        "hostname", "domainname", "cwd", "umask", "no_new_privs",
                        "seccomp", "oom_score_adj"}) {
    if (auto* v = r.if_contains(k)) out[k] = text(*v);
  }
  if (auto* caps = r.if_contains("caps"); caps && caps->is_object()) {
    flattenObject(caps->as_object(), "caps.", out);
  }
  if (auto* limits = r.if_contains("rlimits"); limits && limits->is_object()) {
    for (const auto& [name, l] : limits->as_object()) {
      if (l.is_object()) flattenObject(l.as_object(), "rlimit." + std::string(name) + ".", out);
    }
  }
  if (auto* ns = r.if_contains("ns"); ns && ns->is_object()) {
    for (const auto& [type, inode] : ns->as_object()) {
      auto host = hostNs.find(std::string(type));
      if (host == hostNs.end() || !inode.is_number()) continue;
      bool same = inode.to_number<uint64_t>() == host->second;
      out["ns." + std::string(type) + ".private"] = same ? "false" : "true";
    }
  }
  if (auto* mounts = r.if_contains("mounts"); mounts && mounts->is_array()) {
    for (const auto& m : mounts->as_array()) {
      if (!m.is_object()) continue;
      std::string point = text(m.as_object().at("mount_point"));
      out["mount:" + point] = presenceOnly.count(point)
                                  ? "present"
                                  : text(m.as_object().at("fstype"));
    }
  }
  for (const char* section : {"writable", "readable", "syscalls"}) {
    auto* s = r.if_contains(section);
    if (!s || !s->is_object()) continue;
    for (const auto& [key, v] : s->as_object()) {
      if (!v.is_object()) continue;
      auto* err = v.as_object().if_contains("error");
      out[std::string(section) + ":" + std::string(key)] =
          err && !text(*err).empty() ? text(*err) : "ok";
    }
  }
  return out;
}

std::vector<std::string> differences(const View& a, const View& b,
                                     const std::set<std::string>& ignore,
                                     const std::vector<std::string>& ignorePrefixes) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys) {
    if (ignore.count(k)) continue;
    bool skip = false;
    for (const auto& p : ignorePrefixes) skip = skip || strings::startsWith(k, p);
    if (skip) continue;
    auto ia = a.find(k);
    auto ib = b.find(k);
    std::string va = ia == a.end() ? "<missing>" : ia->second;
    std::string vb = ib == b.end() ? "<missing>" : ib->second;
    if (va != vb) out.push_back(k + ": a=" + va + " b=" + vb);
  }
  return out;
}

std::set<std::string> maskedPaths() {
  return {"/proc/acpi",         "/proc/asound",      "/proc/kcore",
          "/proc/keys",         "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats",  "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"};
}

}  // namespace nucleo::itest
