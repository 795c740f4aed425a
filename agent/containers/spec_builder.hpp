#pragma once
// From a task's CommandInfo, ContainerInfo and resources to the config.json of
// its OCI bundle. Pure functions of their inputs (no file system access), so
// every field is unit-tested; Containers resolves the image and user first.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/containers/containers.hpp"
#include "base/result.hpp"
#include "images/manifest.hpp"
#include "oci/spec.hpp"

namespace nucleo::agent {

// Namespaces held by a pod's pause process, joined by its task containers.
struct PodNamespaces {
  std::string ipc, uts;
  std::string net;  // empty: the host's network
  std::string shm;  // a host directory shared as /dev/shm (POSIX shm)
  std::string addressesFile;  // the pod network's addresses, one a line; "" if none
};

// What Containers resolved before the spec can be written.
struct SpecContext {
  const images::ImageConfig* image = nullptr;  // null: the host's filesystem
  std::string rootfs;                          // root.path
  oci::User user;
  std::string cgroupsPath;        // absolute, e.g. /nucleo-agent/<id>
  std::string sandboxMountPoint;  // where an image container sees its sandbox
  std::optional<PodNamespaces> pod;
  // Without a pod: "" keeps the host's network; otherwise the container gets
  // its own network namespace and the runtime sets up this mode (annotation
  // org.nucleo.network, ports in org.nucleo.network.ports) before start.
  std::string networkMode;
  std::vector<std::string> publish;  // "8080:80/tcp"
  // The agent's isolators: no cpu or memory limit, pid or IPC namespace,
  // device rules without theirs; an image without filesystem/linux is an error.
  Isolation isolation = Isolation::all();
};

// process.args: shell form is ["/bin/sh", "-c", value]; otherwise value is
// the program and arguments its argv (arguments[0] is argv[0], replaced by
// value); with no value, the image's Entrypoint + Cmd (arguments replacing
// Cmd). Error when that leaves nothing to run.
Result<std::vector<std::string>> commandArgs(const mesos::v1::CommandInfo& command,
                                             const images::ImageConfig* image);

// process.env: the image's Env (PATH defaulted), then the agent's variables,
// then CommandInfo.environment (VALUE only: a SECRET is an error naming it),
// then MESOS_SANDBOX = sandboxInside.
Result<std::vector<std::string>> commandEnv(const ContainerLaunch& launch,
                                            const images::ImageConfig* image,
                                            const std::string& sandboxInside);

// cgroup limits from the cpus and mem resources, as Mesos's cgroups isolators
// set them: shares 1024 per cpu (min 2) with a CFS quota of cpus x 100 ms per
// 100 ms, memory = mem MB (min 32 MB). Unset when the resource is absent.
struct TaskLimits {
  std::optional<uint64_t> cpuShares;
  std::optional<int64_t> cpuQuota;  // per 100000 us period
  std::optional<int64_t> memoryBytes;
};
Result<TaskLimits> taskLimits(const std::vector<mesos::v1::Resource>& resources);

// "CAP_CHOWN"... from Mesos's numbering (1000 + the kernel's number); error on
// an unknown number.
Result<std::vector<std::string>> capabilityNames(const mesos::v1::CapabilityInfo& info);

// The capabilities a task gets when ContainerInfo.linux_info says nothing:
// Docker's default set, so tasks written for Docker or Mesos keep working.
std::vector<std::string> defaultCapabilities();

// The seccomp profile used unless linux_info.seccomp.unconfined: everything is
// allowed except the syscalls that reach outside the container (module and
// kexec loading, mount, keyring, bpf, perf, ptrace...), which fail with EPERM.
std::string defaultSeccompJson();

// The whole config.json text for the container.
Result<std::string> buildConfigJson(const ContainerLaunch& launch, const SpecContext& context);

}  // namespace nucleo::agent
