#include "agent/containers/isolation.hpp"

#include <utility>

#include "base/strings.hpp"

namespace nucleo::agent {

namespace {

// Every isolator name that switches one thing on, in the order active()
// reports them (filesystem/linux|posix is reported separately).
constexpr std::pair<const char*, bool Isolation::*> kIsolators[] = {
    {"cgroups/cpu", &Isolation::cgroupsCpu},         {"cgroups/mem", &Isolation::cgroupsMem},
    {"cgroups/pids", &Isolation::cgroupsPids},       {"cgroups/devices", &Isolation::cgroupsDevices},
    {"posix/cpu", &Isolation::posixCpu},             {"posix/mem", &Isolation::posixMem},
    {"namespaces/pid", &Isolation::namespacesPid},   {"namespaces/ipc", &Isolation::namespacesIpc},
    {"filesystem/linux", &Isolation::filesystemLinux}, {"network/cni", &Isolation::networkCni},
};

}  // namespace

Result<Isolation> Isolation::parse(std::string_view flag) {
  Isolation out;
  for (const auto& raw : strings::split(flag, ',', true)) {
    std::string name(strings::trim(raw));
    if (name.empty() || name == "filesystem/posix" || name == "docker/runtime") continue;
    if (name == "cgroups/all") {
      out.cgroupsCpu = out.cgroupsMem = out.cgroupsPids = out.cgroupsDevices = true;
      continue;
    }
    bool known = false;
    for (const auto& [isolator, member] : kIsolators) {
      if (name != isolator) continue;
      out.*member = known = true;
    }
    if (!known) return Error::make("--isolation: unknown isolator '{}'", name);
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
  for (const auto& [isolator, member] : kIsolators) {
    if (member == &Isolation::filesystemLinux)
      out.emplace_back(filesystemLinux ? "filesystem/linux" : "filesystem/posix");
    else if (this->*member)
      out.emplace_back(isolator);
  }
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
