// CgroupLayout: which hierarchy each controller lives in, from mountinfo.

#include <algorithm>
#include <array>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "linux/cgroup.hpp"

namespace nucleo::os {
namespace {

// Only these v1 mount options name controllers; the rest are mount flags or
// named hierarchies ("name=systemd"), which hold no resources.
constexpr std::array<std::string_view, 14> KNOWN_V1_CONTROLLERS = {
    "cpu",      "cpuacct", "cpuset",     "memory",  "devices", "freezer", "net_cls",
    "net_prio", "blkio",   "perf_event", "hugetlb", "pids",    "rdma",    "misc"};

bool isKnownV1Controller(std::string_view name) {
  return std::find(KNOWN_V1_CONTROLLERS.begin(), KNOWN_V1_CONTROLLERS.end(), name) !=
         KNOWN_V1_CONTROLLERS.end();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountField(std::string_view in) {
  std::string out;
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && octal(in[i + 1]) && octal(in[i + 2]) &&
        octal(in[i + 3])) {
      out.push_back(static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 +
                                      (in[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

struct CgroupMount {
  std::string fsType;  // "cgroup" or "cgroup2"
  std::string mountPoint;
  std::vector<std::string> superOptions;
};

// One mountinfo line: "id parent maj:min root mountpoint opts [optional...] -
// fstype source superopts". Returns nullopt for non-cgroup or malformed lines.
std::optional<CgroupMount> parseCgroupMount(std::string_view line) {
  std::vector<std::string> fields = strings::split(line, ' ', true);
  auto dash = std::find(fields.begin(), fields.end(), "-");
  if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4)
    return std::nullopt;
  const std::string& fsType = *(dash + 1);
  if (fsType != "cgroup" && fsType != "cgroup2") return std::nullopt;
  return CgroupMount{fsType, unescapeMountField(fields[4]),
                     strings::split(*(dash + 3), ',', true)};
}

}  // namespace

bool CgroupLayout::available(const std::string& controller) const {
  if (v2Controllers.count(controller) || v1Mounts.count(controller)) return true;
  return controller == "freezer" && !v2Mount.empty();
}

CgroupVersion CgroupLayout::versionOf(const std::string& controller) const {
  if (v2Controllers.count(controller)) return CgroupVersion::V2;
  if (v1Mounts.count(controller)) return CgroupVersion::V1;
  if (controller == "freezer" && !v2Mount.empty()) return CgroupVersion::V2;
  return mode == Mode::Unified ? CgroupVersion::V2 : CgroupVersion::V1;
}

Result<CgroupLayout> CgroupLayout::detect() {
  TRY_ASSIGN(std::string text, fs::readFile("/proc/self/mountinfo"));
  return fromMountInfo(text).context("detect cgroup layout");
}

Result<CgroupLayout> CgroupLayout::fromMountInfo(std::string_view mountinfo,
                                                 const std::string& rootPrefix) {
  CgroupLayout layout;
  for (const std::string& line : strings::split(mountinfo, '\n', true)) {
    std::optional<CgroupMount> mount = parseCgroupMount(line);
    if (!mount) continue;
    std::string dir = rootPrefix + mount->mountPoint;
    if (mount->fsType == "cgroup2") {
      // The same hierarchy may be bind-mounted again later; the first wins.
      if (layout.v2Mount.empty()) layout.v2Mount = dir;
      continue;
    }
    for (const std::string& option : mount->superOptions) {
      if (isKnownV1Controller(option)) layout.v1Mounts.emplace(option, dir);
    }
  }
  if (layout.v2Mount.empty() && layout.v1Mounts.empty())
    return Error::make("no cgroup or cgroup2 mount in mountinfo");

  if (!layout.v2Mount.empty()) {
    std::string file = layout.v2Mount + "/cgroup.controllers";
    TRY_ASSIGN(std::string controllers, fs::readFile(file));
    for (const std::string& name : strings::split(strings::trim(controllers), ' ', true))
      layout.v2Controllers.insert(name);
  }
  if (layout.v1Mounts.empty())
    layout.mode = Mode::Unified;
  else
    layout.mode = layout.v2Mount.empty() ? Mode::Legacy : Mode::Hybrid;
  return layout;
}

Result<std::string> Cgroup::normalizePath(std::string_view path) {
  std::vector<std::string> parts;
  for (const std::string& part : strings::split(path, '/', true)) {
    if (part == ".") continue;
    if (part == "..") return Error::make("cgroup path '{}': '..' is not allowed", path);
    parts.push_back(part);
  }
  if (parts.empty()) return Error::make("cgroup path '{}': names the cgroup root", path);
  return "/" + strings::join(parts, "/");
}

}  // namespace nucleo::os
