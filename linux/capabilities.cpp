#include "linux/capabilities.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace nucleo::os {
namespace {

// Indexed by capability number, as in <linux/capability.h> up to Linux 5.9.
constexpr std::array<std::string_view, 41> NAMES{
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",          "CAP_FSETID",         "CAP_KILL",
    "CAP_SETGID",          "CAP_SETUID",         "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",     "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",       "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",       "CAP_SYSLOG",         "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",
    "CAP_BPF",             "CAP_CHECKPOINT_RESTORE",
};

int readLastCapability() {
  if (auto text = fs::readFile("/proc/sys/kernel/cap_last_cap")) {
    if (auto n = strings::toInt(strings::trim(*text)); n && *n >= 0 && *n < 64)
      return static_cast<int>(*n);
  }
  // No /proc (early in a container init): PR_CAPBSET_READ fails past the end.
  int cap = 0;
  while (cap < 63 && ::prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) ++cap;
  return cap;
}

struct Masks {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0,
           ambient = 0;
};

uint64_t toMask(const std::vector<int>& caps) {
  uint64_t mask = 0;
  for (int cap : caps) mask |= uint64_t{1} << cap;
  return mask;
}

Masks toMasks(const CapabilitySets& caps) {
  return {toMask(caps.bounding), toMask(caps.effective),
          toMask(caps.inheritable), toMask(caps.permitted),
          toMask(caps.ambient)};
}

Status checkRange(std::string_view set, const std::vector<int>& caps) {
  int last = lastCapability();
  for (int cap : caps)
    if (cap < 0 || cap > last)
      return Error::make("{}: {} is not supported by this kernel (cap_last_cap {})",
                         set, capabilityName(cap), last);
  return ok();
}

Status checkSubset(std::string_view set, const std::vector<int>& caps,
                   uint64_t of, std::string_view ofName) {
  for (int cap : caps)
    if ((of & (uint64_t{1} << cap)) == 0)
      return Error::make("{}: {} is not in the {} set", set, capabilityName(cap),
                         ofName);
  return ok();
}

// Needs CAP_SETPCAP, so it comes before the uid switch clears the effective
// set. Dropping a cap that is already gone succeeds.
Status dropBounding(uint64_t keep) {
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      return Error::fromErrno(fmt::format("drop {} from the bounding set",
                                          capabilityName(cap)));
  }
  return ok();
}

bool setgroupsDenied() {
  auto text = fs::readFile("/proc/self/setgroups");
  return text && strings::trim(*text) == "deny";
}

Status setGroups(const std::vector<uint32_t>& gids) {
  static_assert(sizeof(gid_t) == sizeof(uint32_t));
  if (::setgroups(gids.size(), reinterpret_cast<const gid_t*>(gids.data())) == 0)
    return ok();
  int err = errno;
  // A user namespace whose gid_map was written by an unprivileged parent
  // must deny setgroups; with no groups wanted there is nothing to do.
  if (err == EPERM && gids.empty() && setgroupsDenied()) return ok();
  std::vector<std::string> names;
  for (uint32_t gid : gids) names.push_back(std::to_string(gid));
  return Error::fromErrno(
      fmt::format("setgroups([{}])", strings::join(names, ", ")), err);
}

Status setIds(const Identity& id) {
  if (::setresgid(id.gid, id.gid, id.gid) < 0)
    return Error::fromErrno(fmt::format("setresgid({})", id.gid));
  if (::setresuid(id.uid, id.uid, id.uid) < 0)
    return Error::fromErrno(fmt::format("setresuid({})", id.uid));
  return ok();
}

// Raw capset(2): libcap's cap_t would allocate in the container init.
Status setCaps(const Masks& m) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    data[i].effective = static_cast<uint32_t>(m.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(m.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(m.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) < 0)
    return Error::fromErrno(fmt::format(
        "capset(effective={:#x}, permitted={:#x}, inheritable={:#x})",
        m.effective, m.permitted, m.inheritable));
  return ok();
}

// Ambient caps survive execve for non-root users (Linux 4.3+). They must be
// raised after setresuid, which clears them.
Status setAmbient(uint64_t ambient) {
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
    if (errno == EINVAL && ambient == 0) return ok();  // pre-4.3 kernel
    return Error::fromErrno("clear the ambient set");
  }
  for (int cap = 0; cap < 64; ++cap) {
    if ((ambient & (uint64_t{1} << cap)) == 0) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      return Error::fromErrno(
          fmt::format("raise {} in the ambient set", capabilityName(cap)));
  }
  return ok();
}

}  // namespace

Result<int> capabilityFromName(std::string_view name) {
  for (size_t cap = 0; cap < NAMES.size(); ++cap)
    if (NAMES[cap] == name) return static_cast<int>(cap);
  return Error::make("unknown capability \"{}\"", name);
}

std::string capabilityName(int cap) {
  if (cap >= 0 && static_cast<size_t>(cap) < NAMES.size())
    return std::string(NAMES[static_cast<size_t>(cap)]);
  return fmt::format("CAP_{}", cap);
}

int lastCapability() {
  static const int last = readLastCapability();
  return last;
}

Status validateCapabilitySets(const CapabilitySets& caps) {
  TRY(checkRange("bounding", caps.bounding));
  TRY(checkRange("effective", caps.effective));
  TRY(checkRange("inheritable", caps.inheritable));
  TRY(checkRange("permitted", caps.permitted));
  TRY(checkRange("ambient", caps.ambient));
  Masks m = toMasks(caps);
  TRY(checkSubset("effective", caps.effective, m.permitted, "permitted"));
  // capset(2) refuses inheritable caps outside the bounding set (EPERM).
  TRY(checkSubset("inheritable", caps.inheritable, m.bounding, "bounding"));
  // PR_CAP_AMBIENT_RAISE needs the cap permitted and inheritable.
  TRY(checkSubset("ambient", caps.ambient, m.permitted, "permitted"));
  TRY(checkSubset("ambient", caps.ambient, m.inheritable, "inheritable"));
  return ok();
}

Status applyIdentity(const Identity& id, const CapabilitySets& caps) {
  TRY(validateCapabilitySets(caps));
  Masks m = toMasks(caps);
  TRY(dropBounding(m.bounding));
  // Without KEEPCAPS, leaving uid 0 would empty the permitted set.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return Error::fromErrno("prctl(PR_SET_KEEPCAPS, 1)");
  TRY(setGroups(id.additionalGids));
  TRY(setIds(id));
  TRY(setCaps(m));
  TRY(setAmbient(m.ambient));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return Error::fromErrno("prctl(PR_SET_KEEPCAPS, 0)");
  if (id.umask) ::umask(*id.umask);
  return ok();
}

}  // namespace nucleo::os
