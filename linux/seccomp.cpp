#include "linux/seccomp.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <string_view>

#include "base/fs.hpp"
#include "base/sha256.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {
namespace {

// Bumped whenever compileSeccomp's output for the same profile may change,
// so that stale cache files are never reused.
constexpr std::string_view CACHE_FORMAT = "nucleo-seccomp-bpf-v1";
constexpr unsigned MAX_ARGS = 6;  // seccomp_data.args has six slots
constexpr uint32_t MAX_ERRNO_RET = 0xffff;  // SECCOMP_RET_DATA is 16 bits

struct ActionInfo {
  std::string_view name;
  uint32_t action;
  bool takesErrno;  // SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry errnoRet
};

constexpr std::array<ActionInfo, 9> ACTIONS{{
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
}};

struct OpInfo {
  std::string_view name;
  scmp_compare op;
};

constexpr std::array<OpInfo, 7> OPS{{
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
}};

struct FlagInfo {
  std::string_view name;
  unsigned bits;
};

constexpr std::array<FlagInfo, 4> FLAGS{{
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    // The kernel rejects it (EINVAL) without NEW_LISTENER, i.e. without
    // SCMP_ACT_NOTIFY, which we refuse; accepted so shared profiles load.
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 0},
}};

const ActionInfo* findAction(std::string_view name) {
  for (const auto& a : ACTIONS)
    if (a.name == name) return &a;
  return nullptr;
}

const OpInfo* findOp(std::string_view name) {
  for (const auto& o : OPS)
    if (o.name == name) return &o;
  return nullptr;
}

const FlagInfo* findFlag(std::string_view name) {
  for (const auto& f : FLAGS)
    if (f.name == name) return &f;
  return nullptr;
}

// "SCMP_ARCH_X86_64" -> libseccomp token, 0 when unknown.
uint32_t archToken(std::string_view name) {
  constexpr std::string_view prefix = "SCMP_ARCH_";
  if (name.substr(0, prefix.size()) != prefix) return 0;
  std::string lower(name.substr(prefix.size()));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ::seccomp_arch_resolve_name(lower.c_str());
}

Status validateAction(const std::string& field, const std::string& action,
                      const std::optional<uint32_t>& errnoRet) {
  const ActionInfo* info = findAction(action);
  if (info == nullptr)
    return Error::make("{}: unknown action \"{}\"", field, action);
  if (info->action == SCMP_ACT_NOTIFY)
    return Error::make("{}: SCMP_ACT_NOTIFY is not supported", field);
  if (errnoRet && *errnoRet > MAX_ERRNO_RET)
    return Error::make("{}: errnoRet {} is out of range (max {})", field,
                       *errnoRet, MAX_ERRNO_RET);
  return ok();
}

Status validateSyscall(const SeccompSyscall& sc, size_t i) {
  std::string field = fmt::format("linux.seccomp.syscalls[{}]", i);
  TRY(validateAction(field + ".action", sc.action, sc.errnoRet));
  for (size_t j = 0; j < sc.args.size(); ++j) {
    const SeccompArg& arg = sc.args[j];
    if (arg.index >= MAX_ARGS)
      return Error::make("{}.args[{}].index: {} is out of range (0-{})", field,
                         j, arg.index, MAX_ARGS - 1);
    if (findOp(arg.op) == nullptr)
      return Error::make("{}.args[{}].op: unknown operator \"{}\"", field, j,
                         arg.op);
  }
  return ok();
}

// The libseccomp action for a validated (name, errnoRet) pair. ERRNO and
// TRACE default to EPERM, as runc does.
uint32_t resolveAction(const std::string& name,
                       const std::optional<uint32_t>& errnoRet) {
  const ActionInfo* info = findAction(name);
  if (!info->takesErrno) return info->action;
  return info->action | (errnoRet.value_or(EPERM) & MAX_ERRNO_RET);
}

struct FilterRelease {
  void operator()(void* ctx) const { ::seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterRelease>;

scmp_arg_cmp toCondition(const SeccompArg& arg) {
  return scmp_arg_cmp{arg.index, findOp(arg.op)->op, arg.value, arg.valueTwo};
}

// Adds the rules for one resolved syscall. libseccomp cannot AND two
// conditions on the same argument, so then each condition becomes its own
// rule (an OR), matching runc's behaviour.
Status addRules(void* ctx, int nr, uint32_t action,
                const std::vector<SeccompArg>& args) {
  std::array<unsigned, MAX_ARGS> perIndex{};
  bool repeated = false;
  std::vector<scmp_arg_cmp> conds;
  conds.reserve(args.size());
  for (const SeccompArg& arg : args) {
    repeated = repeated || ++perIndex[arg.index] > 1;
    conds.push_back(toCondition(arg));
  }
  if (!repeated) {
    int rc = ::seccomp_rule_add_array(ctx, action, nr,
                                      static_cast<unsigned>(conds.size()),
                                      conds.empty() ? nullptr : conds.data());
    if (rc < 0) return Error::fromErrno("seccomp_rule_add", -rc);
    return ok();
  }
  for (const scmp_arg_cmp& cond : conds) {
    int rc = ::seccomp_rule_add_array(ctx, action, nr, 1, &cond);
    if (rc < 0) return Error::fromErrno("seccomp_rule_add", -rc);
  }
  return ok();
}

Status addArchitectures(void* ctx, const SeccompProfile& profile) {
  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    int rc = ::seccomp_arch_add(ctx, archToken(profile.architectures[i]));
    if (rc < 0 && rc != -EEXIST)
      return Error::fromErrno(
          fmt::format("linux.seccomp.architectures[{}]: seccomp_arch_add \"{}\"",
                      i, profile.architectures[i]),
          -rc);
  }
  return ok();
}

Status addSyscalls(void* ctx, const SeccompProfile& profile,
                   uint32_t defaultAction) {
  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    const SeccompSyscall& sc = profile.syscalls[i];
    uint32_t action = resolveAction(sc.action, sc.errnoRet);
    if (action == defaultAction) continue;  // libseccomp refuses it; a no-op
    for (const std::string& name : sc.names) {
      int nr = ::seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // newer than libseccomp: skipped
      TRY(addRules(ctx, nr, action, sc.args)
              .context("linux.seccomp.syscalls[{}]: syscall \"{}\"", i, name));
    }
  }
  return ok();
}

// libseccomp 2.5.4 has no seccomp_export_bpf_mem: export into a memfd and
// read it back.
Result<std::vector<sock_filter>> exportBpf(void* ctx) {
  UniqueFd fd(::memfd_create("nucleo-seccomp", MFD_CLOEXEC));
  if (!fd) return Error::fromErrno("memfd_create");
  int rc = ::seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) return Error::fromErrno("seccomp_export_bpf", -rc);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::fromErrno("fstat memfd");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0)
    return Error::make("seccomp_export_bpf: unexpected size {}", size);
  std::vector<sock_filter> out(size / sizeof(sock_filter));
  size_t done = 0;
  auto* bytes = reinterpret_cast<char*>(out.data());
  while (done < size) {
    ssize_t n = ::pread(fd.get(), bytes + done, size - done,
                        static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::fromErrno("read exported BPF");
    done += static_cast<size_t>(n);
  }
  return out;
}

void putString(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

void putNumber(std::string& out, uint64_t v) {
  out += std::to_string(v);
  out += ';';
}

void putOptional(std::string& out, const std::optional<uint32_t>& v) {
  out += v ? '+' : '-';
  if (v) putNumber(out, *v);
}

void putStrings(std::string& out, const std::vector<std::string>& v) {
  putNumber(out, v.size());
  for (const auto& s : v) putString(out, s);
}

// Length-prefixed, so no two different profiles serialize the same.
std::string canonicalSerialization(const SeccompProfile& p) {
  std::string out(CACHE_FORMAT);
  const scmp_version* v = ::seccomp_version();
  out += fmt::format("|libseccomp {}.{}.{}|arch {}|", v->major, v->minor,
                     v->micro, ::seccomp_arch_native());
  putString(out, p.defaultAction);
  putOptional(out, p.defaultErrnoRet);
  putStrings(out, p.architectures);
  putStrings(out, p.flags);
  putString(out, p.listenerPath);
  putNumber(out, p.syscalls.size());
  for (const SeccompSyscall& sc : p.syscalls) {
    putStrings(out, sc.names);
    putString(out, sc.action);
    putOptional(out, sc.errnoRet);
    putNumber(out, sc.args.size());
    for (const SeccompArg& a : sc.args) {
      putNumber(out, a.index);
      putNumber(out, a.value);
      putNumber(out, a.valueTwo);
      putString(out, a.op);
    }
  }
  return out;
}

// Cheap sanity checks on a cached program; the kernel verifies the rest.
bool plausibleBpf(const std::string& bytes) {
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0) return false;
  if (bytes.size() / sizeof(sock_filter) > BPF_MAXINSNS) return false;
  sock_filter last;
  std::memcpy(&last, bytes.data() + bytes.size() - sizeof last, sizeof last);
  return BPF_CLASS(last.code) == BPF_RET;
}

// mkdir with mode 0700 for the last component (fs::makeDirs ignores modes).
bool ensureCacheDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return true;
  if (errno != ENOENT) return false;
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0 &&
      !fs::makeDirs(dir.substr(0, slash)))
    return false;
  return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

}  // namespace

Status validateSeccomp(const SeccompProfile& profile) {
  TRY(validateAction("linux.seccomp.defaultAction", profile.defaultAction,
                     profile.defaultErrnoRet));
  for (size_t i = 0; i < profile.architectures.size(); ++i)
    if (archToken(profile.architectures[i]) == 0)
      return Error::make("linux.seccomp.architectures[{}]: unknown architecture \"{}\"",
                         i, profile.architectures[i]);
  for (size_t i = 0; i < profile.flags.size(); ++i)
    if (findFlag(profile.flags[i]) == nullptr)
      return Error::make("linux.seccomp.flags[{}]: unknown flag \"{}\"", i,
                         profile.flags[i]);
  for (size_t i = 0; i < profile.syscalls.size(); ++i)
    TRY(validateSyscall(profile.syscalls[i], i));
  return ok();
}

unsigned seccompFlags(const SeccompProfile& profile) {
  unsigned bits = 0;
  for (const std::string& name : profile.flags)
    if (const FlagInfo* f = findFlag(name)) bits |= f->bits;
  return bits;
}

Result<SeccompProgram> compileSeccomp(const SeccompProfile& profile) {
  TRY(validateSeccomp(profile));
  uint32_t defaultAction =
      resolveAction(profile.defaultAction, profile.defaultErrnoRet);
  Filter ctx(::seccomp_init(defaultAction));
  if (!ctx) return Error::make("seccomp_init: cannot create a filter");
  // We export and install the BPF ourselves; NNP only affects seccomp_load,
  // cleared anyway so the filter does not claim a policy we leave to callers.
  int rc = ::seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return Error::fromErrno("seccomp_attr_set NNP", -rc);
  TRY(addArchitectures(ctx.get(), profile));
  TRY(addSyscalls(ctx.get(), profile, defaultAction));
  TRY_ASSIGN(std::vector<sock_filter> bpf, exportBpf(ctx.get()));
  if (bpf.size() > BPF_MAXINSNS)
    return Error::make("linux.seccomp: compiled filter has {} instructions, "
                       "the kernel limit is {}", bpf.size(), BPF_MAXINSNS);
  return SeccompProgram{std::move(bpf), seccompFlags(profile)};
}

std::string seccompCacheKey(const SeccompProfile& profile) {
  return Sha256::hex(canonicalSerialization(profile));
}

Result<SeccompProgram> compileSeccompCached(const SeccompProfile& profile,
                                            const std::string& cacheDir) {
  TRY(validateSeccomp(profile));
  std::string key = seccompCacheKey(profile);
  if (key.empty()) return compileSeccomp(profile);
  std::string path = cacheDir + "/" + key + ".bpf";
  if (auto bytes = fs::readFile(path); bytes && plausibleBpf(*bytes)) {
    SeccompProgram program;
    program.instructions.resize(bytes->size() / sizeof(sock_filter));
    std::memcpy(program.instructions.data(), bytes->data(), bytes->size());
    program.flags = seccompFlags(profile);
    return program;
  }
  TRY_ASSIGN(SeccompProgram program, compileSeccomp(profile));
  if (ensureCacheDir(cacheDir)) {
    std::string_view bytes(
        reinterpret_cast<const char*>(program.instructions.data()),
        program.instructions.size() * sizeof(sock_filter));
    (void)fs::writeFileAtomic(path, bytes, 0600);  // best-effort, see header
  }
  return program;
}

Status installSeccomp(const SeccompProgram& program) {
  size_t n = program.instructions.size();
  if (n == 0 || n > BPF_MAXINSNS)
    return Error::make("seccomp: program has {} instructions (1-{} allowed)",
                       n, BPF_MAXINSNS);
  sock_fprog prog{static_cast<unsigned short>(n),
                  const_cast<sock_filter*>(program.instructions.data())};
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog);
  if (rc < 0) return Error::fromErrno("seccomp(SECCOMP_SET_MODE_FILTER)");
  if (rc > 0)  // TSYNC reports the thread it could not synchronize
    return Error::make("seccomp(SECCOMP_SET_MODE_FILTER): thread {} cannot be "
                       "synchronized", rc);
  return ok();
}

}  // namespace nucleo::os
