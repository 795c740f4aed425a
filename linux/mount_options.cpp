// OCI mount options -> mount(2) flags, propagation calls, mount_setattr(2)
// attributes and filesystem data. The tables follow runc's
// libcontainer/specconv (mountPropagationMapping, recAttrFlags).

#include <sys/mount.h>

#include <string_view>

#include "base/strings.hpp"
#include "linux/mount.hpp"

namespace nucleo::os {
namespace {

struct FlagOption {
  std::string_view name;
  bool clear;  // the option negates the flag ("rw" clears MS_RDONLY)
  unsigned long flag;
};

constexpr FlagOption FLAG_OPTIONS[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
};

struct PropagationOption {
  std::string_view name;
  unsigned long flag;
};

constexpr PropagationOption PROPAGATION_OPTIONS[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

// Recursive attributes. Changing the atime mode needs MOUNT_ATTR__ATIME in
// attr_clr (the kernel rejects a lone atime bit), hence the `clear` column.
struct AttrOption {
  std::string_view name;
  uint64_t set;
  uint64_t clear;
};

constexpr AttrOption ATTR_OPTIONS[] = {
    {"rro", MOUNT_ATTR_RDONLY, 0},
    {"rrw", 0, MOUNT_ATTR_RDONLY},
    {"rnosuid", MOUNT_ATTR_NOSUID, 0},
    {"rsuid", 0, MOUNT_ATTR_NOSUID},
    {"rnodev", MOUNT_ATTR_NODEV, 0},
    {"rdev", 0, MOUNT_ATTR_NODEV},
    {"rnoexec", MOUNT_ATTR_NOEXEC, 0},
    {"rexec", 0, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", MOUNT_ATTR_NODIRATIME, 0},
    {"rdiratime", 0, MOUNT_ATTR_NODIRATIME},
    {"rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"ratime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnorelatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rnostrictatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
};

// Options with a meaning nucleo does not implement: silently dropping them
// would give the container a different filesystem than it asked for.
constexpr std::string_view REFUSED_OPTIONS[] = {"tmpcopyup", "idmap",
                                                "ridmap"};

bool applyFlagOption(std::string_view opt, MountOptions& out) {
  for (const auto& f : FLAG_OPTIONS) {
    if (f.name != opt) continue;
    if (f.clear) {
      out.flags &= ~f.flag;
      out.clearFlags |= f.flag;
    } else {
      out.flags |= f.flag;
      out.clearFlags &= ~f.flag;
    }
    return true;
  }
  return false;
}

bool applyAttrOption(std::string_view opt, MountOptions& out) {
  for (const auto& a : ATTR_OPTIONS) {
    if (a.name != opt) continue;
    // The atime bits are an enum: a new mode replaces the old one, and the
    // whole MOUNT_ATTR__ATIME mask stays in attr_clr once any mode is chosen.
    const uint64_t atime = MOUNT_ATTR__ATIME;
    out.attrSet = (out.attrSet & ~a.clear) | a.set;
    out.attrClear = (out.attrClear & ~(a.set & ~atime)) | a.clear;
    return true;
  }
  return false;
}

bool applyPropagationOption(std::string_view opt, MountOptions& out) {
  for (const auto& p : PROPAGATION_OPTIONS) {
    if (p.name != opt) continue;
    out.propagation.push_back(p.flag);
    return true;
  }
  return false;
}

}  // namespace

Result<MountOptions> parseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  std::vector<std::string> data;
  for (const auto& opt : options) {
    for (auto refused : REFUSED_OPTIONS) {
      if (opt == refused) {
        return Error{EINVAL,
                     fmt::format("mount option '{}' is not supported", opt)};
      }
    }
    if (strings::startsWith(opt, "x-")) continue;
    if (opt == "bind") {
      out.bind = true;
      continue;
    }
    if (opt == "rbind") {
      out.bind = out.recursiveBind = true;
      continue;
    }
    if (applyFlagOption(opt, out) || applyAttrOption(opt, out) ||
        applyPropagationOption(opt, out)) {
      continue;
    }
    data.push_back(opt);
  }
  out.data = strings::join(data, ",");
  return out;
}

}  // namespace nucleo::os
