#pragma once
// Seccomp filters from OCI runtime-spec `linux.seccomp` profiles: validation,
// compilation to classic BPF with libseccomp, an on-disk BPF cache, and
// installation with seccomp(2).

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::os {

// One argument condition; `op` uses the spec's names ("SCMP_CMP_EQ", ...).
// For "SCMP_CMP_MASKED_EQ", `value` is the mask and `valueTwo` the datum.
struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t valueTwo = 0;
  std::string op;
};

// A rule for every syscall in `names`; all `args` must match (see
// compileSeccomp for repeated indexes).
struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
};

// Mirrors the OCI `linux.seccomp` object field for field, with the spec's
// string names, so the OCI layer only copies fields.
struct SeccompProfile {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listenerPath;
  std::vector<SeccompSyscall> syscalls;
};

// A compiled filter: classic BPF ready for seccomp(2), plus the kernel's
// SECCOMP_FILTER_FLAG_* bits.
struct SeccompProgram {
  std::vector<struct sock_filter> instructions;
  unsigned flags = 0;
};

// Checks actions, architectures, flags, ops, argument indexes and errnoRet
// ranges. Errors name the field, e.g. `linux.seccomp.syscalls[3].action:
// unknown action "SCMP_ACT_FOO"`. SCMP_ACT_NOTIFY is refused (no listener
// support). Syscall names libseccomp does not know are not errors: profiles
// list syscalls newer than the library, and runc and crun skip them too.
Status validateSeccomp(const SeccompProfile& profile);

// The SECCOMP_FILTER_FLAG_* bits for `profile.flags`. Precondition: the
// profile passed validateSeccomp. WAIT_KILLABLE_RECV is dropped: the kernel
// accepts it only with a notify listener, which is not supported.
unsigned seccompFlags(const SeccompProfile& profile);

// Validates and compiles with libseccomp. SCMP_ACT_ERRNO and SCMP_ACT_TRACE
// without errnoRet return EPERM (as runc). The native architecture is always
// included. Several conditions on the same argument index become separate
// rules (OR), as runc does, because libseccomp cannot AND them. Rules whose
// action equals the default are skipped. No no_new_privs attribute is set:
// the caller decides. Errors: invalid profile, libseccomp failures, or a
// program over the kernel's 4096-instruction limit.
Result<SeccompProgram> compileSeccomp(const SeccompProfile& profile);

// The cache key for `profile`: hex SHA-256 of a canonical serialization of the
// profile, libseccomp's version and the native architecture.
std::string seccompCacheKey(const SeccompProfile& profile);

// Like compileSeccomp but reuses `<cacheDir>/<seccompCacheKey>.bpf`. A missing
// cacheDir is created with mode 0700; a cache file that is empty, not a whole
// number of instructions or not ending in a BPF return is ignored and
// rewritten (atomically). The cache is best-effort: I/O failures on it only
// cost a compile; profile errors are still returned.
Result<SeccompProgram> compileSeccompCached(const SeccompProfile& profile,
                                            const std::string& cacheDir);

// Installs `program` on the calling thread (all threads with TSYNC). Requires
// no_new_privs or CAP_SYS_ADMIN. Allocates nothing unless it fails, so it can
// run in a container init right before execve.
Status installSeccomp(const SeccompProgram& program);

}  // namespace nucleo::os
