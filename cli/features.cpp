#include "cli/features.hpp"

#include <boost/json.hpp>

#include "linux/capabilities.hpp"
#include "linux/cgroup.hpp"
#include "oci/json_pretty.hpp"
#include "oci/state.hpp"

namespace nucleo::cli {
namespace {

boost::json::array strings(std::initializer_list<const char*> items) {
  boost::json::array out;
  for (const char* s : items) out.push_back(boost::json::string(s));
  return out;
}

boost::json::object cgroupFeatures() {
  boost::json::object cgroup{{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}};
  auto layout = os::CgroupLayout::detect();
  if (!layout) return cgroup;
  const char* modes[] = {"unified", "hybrid", "legacy"};
  boost::json::object controllers;
  for (const char* c : {"cpu", "cpuset", "memory", "pids", "io", "blkio", "freezer", "devices",
                        "hugetlb", "cpuacct", "net_cls", "net_prio", "rdma", "misc"}) {
    if (!layout->available(c)) continue;
    controllers[c] = layout->versionOf(c) == os::CgroupVersion::V2 ? "v2" : "v1";
  }
  // cgroup2 has no devices controller: rules become a BPF program attached
  // to the container's cgroup2 directory.
  if (!layout->available("devices") && !layout->v2Mount.empty()) controllers["devices"] = "v2-bpf";
  boost::json::array missing;
  for (const char* c : {"cpu", "cpuset", "memory", "pids", "hugetlb", "freezer", "devices"})
    if (!controllers.contains(c)) missing.push_back(boost::json::string(c));
  cgroup["org.nucleo.layout"] = modes[static_cast<int>(layout->mode)];
  cgroup["org.nucleo.controllers"] = std::move(controllers);
  cgroup["org.nucleo.missingControllers"] = std::move(missing);
  cgroup["org.nucleo.v2Mount"] = layout->v2Mount;
  cgroup["org.nucleo.v1Mounts"] = [&] {
    boost::json::object mounts;
    for (const auto& [controller, dir] : layout->v1Mounts) mounts[controller] = dir;
    return mounts;
  }();
  return cgroup;
}

}  // namespace

std::string featuresJson() {
  boost::json::array caps;
  for (int cap = 0; cap <= os::lastCapability(); ++cap) caps.push_back(boost::json::string(os::capabilityName(cap)));
  boost::json::object linux{
      {"namespaces", strings({"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"})},
      {"capabilities", std::move(caps)},
      {"cgroup", cgroupFeatures()},
      {"seccomp",
       {{"enabled", true},
        {"actions", strings({"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                             "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"})},
        {"operators", strings({"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                               "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"})},
        {"archs", strings({"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                           "SCMP_ARCH_ARM"})},
        {"supportedFlags", strings({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW"})}}},
      {"apparmor", {{"enabled", false}}},
      {"selinux", {{"enabled", false}}},
      {"intelRdt", {{"enabled", false}}}};
  boost::json::object doc{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", oci::SPEC_VERSION},
      {"hooks", strings({"prestart", "createRuntime", "createContainer", "startContainer",
                         "poststart", "poststop"})},
      {"mountOptions",
       strings({"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
                "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
                "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
                "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
                "relatime", "remount", "rexec", "rnoatime", "rnodiratime", "rnoexec",
                "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
                "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
                "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
                "suid", "symfollow", "sync", "unbindable"})},
      {"linux", std::move(linux)},
      {"annotations", {{"org.nucleo.version", NUCLEO_VERSION}}}};
  return oci::prettyJson(doc);
}

}  // namespace nucleo::cli
