#include <boost/json.hpp>

#include "oci/json_pretty.hpp"
#include "oci/state.hpp"

namespace nucleo::oci {
namespace {

// The same defaults runc and crun write, so bundles move between runtimes.
constexpr const char* DEFAULT_SPEC = R"({
 "ociVersion": "1.2.0",
 "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
  "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
  "cwd": "/",
  "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
   "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
   "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
   "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]},
  "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
  "noNewPrivileges": true},
 "root": {"path": "rootfs", "readonly": true},
 "hostname": "nucleo",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}],
 "linux": {
  "resources": {"devices": [{"allow": false, "access": "rwm"}]},
  "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
  "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
   "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
  "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]}
})";

}  // namespace

std::string defaultSpecJson(bool rootless, uid_t uid, gid_t gid) {
  boost::json::value spec = boost::json::parse(DEFAULT_SPEC);
  if (rootless) {
    auto& linux = spec.at("linux").as_object();
    linux.erase("resources");
    linux["uidMappings"] = boost::json::array{{{"containerID", 0}, {"hostID", uid}, {"size", 1}}};
    linux["gidMappings"] = boost::json::array{{{"containerID", 0}, {"hostID", gid}, {"size", 1}}};
    auto& namespaces = linux["namespaces"].as_array();
    namespaces = boost::json::array{{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                    {{"type", "mount"}}, {{"type", "user"}}};
    for (auto& mount : spec.at("mounts").as_array()) {
      auto& m = mount.as_object();
      if (m["destination"] == "/sys")
        m = {{"destination", "/sys"}, {"type", "none"}, {"source", "/sys"},
             {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
      if (m["destination"] == "/dev/pts")
        m["options"] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
    }
  }
  return prettyJson(spec) + "\n";
}

}  // namespace nucleo::oci
