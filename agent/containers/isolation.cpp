#include "agent/containers/isolation.hpp"

#include "base/strings.hpp"

namespace nucleo::agent {

Result<Isolation> Isolation::parse(std::string_view flag) {
  Isolation out;
  for (const auto& raw : strings::split(flag, ',', true)) {
    std::string name(strings::trim(raw));
    if (name.empty()) continue;
    if (name == "cgroups/all") {
      out.cgroupsCpu = out.cgroupsMem = out.cgroupsPids = out.cgroupsDevices = true;
    } else if (name == "cgroups/cpu") {
      out.cgroupsCpu = true;
    } else if (name == "cgroups/mem") {
      out.cgroupsMem = true;
    } else if (name == "cgroups/pids") {
      out.cgroupsPids = true;
    } else if (name == "cgroups/devices") {
      out.cgroupsDevices = true;
    } else if (name == "namespaces/pid") {
      out.namespacesPid = true;
    } else if (name == "namespaces/ipc") {
      out.namespacesIpc = true;
    } else if (name == "filesystem/linux") {
      out.filesystemLinux = true;
    } else if (name == "network/cni") {
      out.networkCni = true;
    } else if (name == "posix/cpu") {
      out.posixCpu = true;
    } else if (name == "posix/mem") {
      out.posixMem = true;
    } else if (name != "filesystem/posix" && name != "docker/runtime") {
      return Error::make("--isolation: unknown isolator '{}'", name);
    }
  }
  return out;
}

Isolation Isolation::all() {
  Isolation i;
  i.cgroupsCpu = i.cgroupsMem = i.cgroupsPids = i.cgroupsDevices = true;
  i.namespacesPid = i.namespacesIpc = i.filesystemLinux = i.networkCni = true;
  return i;
}

std::vector<std::string> Isolation::active() const {
  std::vector<std::string> out;
  auto add = [&](bool on, const char* name) {
    if (on) out.emplace_back(name);
  };
  add(cgroupsCpu, "cgroups/cpu");
  add(cgroupsMem, "cgroups/mem");
  add(cgroupsPids, "cgroups/pids");
  add(cgroupsDevices, "cgroups/devices");
  add(posixCpu, "posix/cpu");
  add(posixMem, "posix/mem");
  add(namespacesPid, "namespaces/pid");
  add(namespacesIpc, "namespaces/ipc");
  out.emplace_back(filesystemLinux ? "filesystem/linux" : "filesystem/posix");
  add(networkCni, "network/cni");
  return out;
}

std::vector<std::string> Isolation::isolatedResources() const {
  std::vector<std::string> out;
  if (cgroupsCpu) out.emplace_back("cpus");
  if (cgroupsMem) out.emplace_back("mem");
  return out;
}

void reportIsolation(const std::string& flag, nucleo::agent::Call::Register* out) {
  auto isolation = Isolation::parse(flag);
  if (!isolation) return;
  for (auto& name : isolation->active()) out->add_isolators(std::move(name));
  for (auto& name : isolation->isolatedResources()) out->add_isolated_resources(std::move(name));
}

}  // namespace nucleo::agent
