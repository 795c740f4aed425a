#include "linux/seccomp.hpp"

#include <gtest/gtest.h>
#include <seccomp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {
namespace {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/seccomp_test.XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)fs::removeAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `body` in a forked child with no_new_privs set and returns the ints it
// reported, so a filter never reaches the test process. A negative value
// written by the child marks a setup failure.
std::vector<int> runFiltered(const std::function<std::vector<int>()>& body) {
  auto pipe = makePipe();
  if (!pipe) return {-1000};
  auto& [readEnd, writeEnd] = *pipe;
  pid_t pid = ::fork();
  if (pid == 0) {
    readEnd.reset();
    std::vector<int> out;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) out = {-1001};
    else out = body();
    ssize_t n = ::write(writeEnd.get(), out.data(), out.size() * sizeof(int));
    ::_exit(n < 0 ? 2 : 0);
  }
  writeEnd.reset();
  std::vector<int> result;
  int value;
  while (::read(readEnd.get(), &value, sizeof value) == sizeof value)
    result.push_back(value);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) result.push_back(-2000);
  return result;
}

// Installs `program`, then reports the errno (0 on success) of each probe.
std::vector<int> probeWith(const SeccompProgram& program,
                           const std::vector<std::function<bool()>>& probes) {
  return runFiltered([&]() -> std::vector<int> {
    if (!installSeccomp(program)) return {-1002};
    std::vector<int> out;
    for (const auto& probe : probes) {
      errno = 0;
      out.push_back(probe() ? 0 : errno);
    }
    return out;
  });
}

SeccompProfile allowByDefault() {
  SeccompProfile p;
  p.defaultAction = "SCMP_ACT_ALLOW";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  return p;
}

std::string validationError(const SeccompProfile& p) {
  Status s = validateSeccomp(p);
  return s ? "" : s.error().message;
}

TEST(SeccompValidate, UnknownActionNamesFieldAndValue) {
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"getcwd"}, "SCMP_ACT_ERRNO", {}, {}},
                {{"mkdir"}, "SCMP_ACT_FOO", {}, {}}};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_FOO\"");
  p.syscalls.clear();
  p.defaultAction = "ALLOW";
  EXPECT_EQ(validationError(p),
            "linux.seccomp.defaultAction: unknown action \"ALLOW\"");
}

TEST(SeccompValidate, UnknownArchFlagOpAndIndex) {
  SeccompProfile p = allowByDefault();
  p.architectures.push_back("SCMP_ARCH_VAX");
  EXPECT_EQ(validationError(p),
            "linux.seccomp.architectures[3]: unknown architecture \"SCMP_ARCH_VAX\"");

  p = allowByDefault();
  p.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");

  p = allowByDefault();
  p.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", {}, {{0, 8, 0, "SCMP_CMP_EQ"}, {1, 0, 0, "EQ"}}}};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.syscalls[0].args[1].op: unknown operator \"EQ\"");

  p.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", {}, {{6, 8, 0, "SCMP_CMP_EQ"}}}};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");

  p.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", 70000u, {}}};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.syscalls[0].action: errnoRet 70000 is out of range (max 65535)");
}

TEST(SeccompValidate, NotifyIsRefused) {
  SeccompProfile p = allowByDefault();
  p.defaultAction = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(validationError(p),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported");
  p = allowByDefault();
  p.listenerPath = "/run/listener.sock";
  p.syscalls = {{{"mount"}, "SCMP_ACT_NOTIFY", {}, {}}};
  EXPECT_EQ(validationError(p),
            "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
  auto compiled = compileSeccomp(p);
  ASSERT_FALSE(compiled);
  EXPECT_EQ(compiled.error().message,
            "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported");
}

TEST(SeccompCompile, UnknownSyscallNamesAreSkipped) {
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"getcwd"}, "SCMP_ACT_ERRNO", {}, {}}};
  auto plain = compileSeccomp(p);
  ASSERT_TRUE(plain) << plain.error().message;
  p.syscalls[0].names.push_back("syscall_from_the_future");
  auto withUnknown = compileSeccomp(p);
  ASSERT_TRUE(withUnknown) << withUnknown.error().message;
  ASSERT_EQ(plain->instructions.size(), withUnknown->instructions.size());
  EXPECT_EQ(0, std::memcmp(plain->instructions.data(),
                           withUnknown->instructions.data(),
                           plain->instructions.size() * sizeof(sock_filter)));
}

TEST(SeccompCompile, SmallProfileGivesProgramAndFlags) {
  SeccompProfile p = allowByDefault();
  p.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  p.syscalls = {{{"getcwd", "mkdir"}, "SCMP_ACT_ERRNO", {}, {}},
                {{"reboot"}, "SCMP_ACT_ALLOW", {}, {}}};  // same as default
  auto program = compileSeccomp(p);
  ASSERT_TRUE(program) << program.error().message;
  ASSERT_FALSE(program->instructions.empty());
  EXPECT_EQ(BPF_CLASS(program->instructions.back().code), BPF_RET);
  EXPECT_EQ(program->flags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG);
}

TEST(SeccompInstall, ErrnoActionsReachTheChild) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"getcwd"}, "SCMP_ACT_ERRNO", {}, {}},
                {{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", ENOMEDIUM, {}}};
  p.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"};
  auto program = compileSeccomp(p);
  ASSERT_TRUE(program) << program.error().message;
  std::string dir = tmp.path() + "/made-by-child";
  auto errnos = probeWith(*program, {
      [] { char buf[4096]; return ::getcwd(buf, sizeof buf) != nullptr; },
      [&] { return ::mkdir(dir.c_str(), 0755) == 0; },
      [] { return ::getpid() > 0; },
  });
  EXPECT_EQ(errnos, (std::vector<int>{EPERM, ENOMEDIUM, 0}));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(SeccompInstall, ArgumentConditions) {
  SeccompProfile p = allowByDefault();
  // Two conditions on arg0: separate rules, so either value is refused.
  p.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", EACCES,
                 {{0, PER_LINUX32, 0, "SCMP_CMP_EQ"},
                  {0, PER_BSD, 0, "SCMP_CMP_EQ"}}},
                // Different args: ANDed. Refuse TCP only (type masked so
                // SOCK_CLOEXEC does not matter).
                {{"socket"}, "SCMP_ACT_ERRNO", EXDEV,
                 {{0, AF_INET, 0, "SCMP_CMP_EQ"},
                  {1, 0xf, SOCK_STREAM, "SCMP_CMP_MASKED_EQ"}}}};
  auto program = compileSeccomp(p);
  ASSERT_TRUE(program) << program.error().message;
  auto sock = [](int domain, int type) {
    int fd = ::socket(domain, type, 0);
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  };
  auto errnos = probeWith(*program, {
      [] { return ::personality(0xffffffff) != -1; },
      [] { return ::personality(PER_LINUX32) != -1; },
      [] { return ::personality(PER_BSD) != -1; },
      [&] { return sock(AF_INET, SOCK_STREAM | SOCK_CLOEXEC); },
      [&] { return sock(AF_INET, SOCK_DGRAM); },
      [&] { return sock(AF_UNIX, SOCK_STREAM); },
  });
  EXPECT_EQ(errnos, (std::vector<int>{0, EACCES, EACCES, EXDEV, 0, 0}));
}

// x86 and ARM names that only exist off x86_64; Docker's profile lists them.
const char* const FOREIGN_SYSCALLS[] = {
    "_llseek", "_newselect", "fadvise64_64", "fcntl64", "fstat64", "fstatat64",
    "fstatfs64", "ftruncate64", "getegid32", "geteuid32", "getgid32",
    "getgroups32", "getresgid32", "getresuid32", "getuid32", "lchown32",
    "lstat64", "mmap2", "sendfile64", "setfsgid32", "setfsuid32", "setgid32",
    "setgroups32", "setregid32", "setresgid32", "setresuid32", "setreuid32",
    "setuid32", "sigreturn", "socketcall", "stat64", "statfs64", "truncate64",
    "ugetrlimit", "waitpid", "sigprocmask", "arm_fadvise64_64", "recv", "send",
    "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "ipc",
    "sync_file_range2", "clock_gettime64", "futex_time64", "ppoll_time64",
};

// A Docker-sized allow list: every native syscall libseccomp knows except
// getcwd, plus the foreign names, on three architectures.
SeccompProfile largeProfile() {
  SeccompProfile p;
  p.defaultAction = "SCMP_ACT_ERRNO";
  p.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  SeccompSyscall allow{{}, "SCMP_ACT_ALLOW", {}, {}};
  for (int nr = 0; nr < 1024; ++nr) {
    char* name = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    if (std::string(name) != "getcwd") allow.names.emplace_back(name);
    std::free(name);
  }
  for (const char* name : FOREIGN_SYSCALLS) allow.names.emplace_back(name);
  p.syscalls = {allow};
  return p;
}

bool sameProgram(const SeccompProgram& a, const SeccompProgram& b) {
  return a.flags == b.flags && a.instructions.size() == b.instructions.size() &&
         std::memcmp(a.instructions.data(), b.instructions.data(),
                     a.instructions.size() * sizeof(sock_filter)) == 0;
}

TEST(SeccompCache, MissWritesFileAndHitReturnsSameProgram) {
  TempDir tmp;
  std::string cacheDir = tmp.path() + "/not/yet/there";
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"getcwd"}, "SCMP_ACT_ERRNO", {}, {}}};
  auto miss = compileSeccompCached(p, cacheDir);
  ASSERT_TRUE(miss) << miss.error().message;
  std::string file = cacheDir + "/" + seccompCacheKey(p) + ".bpf";
  struct stat st;
  ASSERT_EQ(::stat(cacheDir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size),
            miss->instructions.size() * sizeof(sock_filter));
  auto direct = compileSeccomp(p);
  ASSERT_TRUE(direct);
  EXPECT_TRUE(sameProgram(*miss, *direct));

  auto hit = compileSeccompCached(p, cacheDir);
  ASSERT_TRUE(hit) << hit.error().message;
  EXPECT_TRUE(sameProgram(*hit, *direct));
  struct stat after;
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, st.st_ino) << "a hit must not rewrite the file";
}

TEST(SeccompCache, KeyDependsOnEveryField) {
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"personality"}, "SCMP_ACT_ERRNO", {}, {{0, 8, 0, "SCMP_CMP_EQ"}}}};
  std::string key = seccompCacheKey(p);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, seccompCacheKey(p));
  SeccompProfile q = p;
  q.syscalls[0].args[0].value = 9;
  EXPECT_NE(key, seccompCacheKey(q));
  q = p;
  q.syscalls[0].errnoRet = EPERM;  // same BPF, but a different profile
  EXPECT_NE(key, seccompCacheKey(q));
  q = p;
  q.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  EXPECT_NE(key, seccompCacheKey(q));
}

TEST(SeccompCache, CorruptFileIsIgnoredAndRewritten) {
  TempDir tmp;
  SeccompProfile p = allowByDefault();
  p.syscalls = {{{"getcwd"}, "SCMP_ACT_ERRNO", {}, {}}};
  auto direct = compileSeccomp(p);
  ASSERT_TRUE(direct);
  std::string file = tmp.path() + "/" + seccompCacheKey(p) + ".bpf";
  // Truncated mid-instruction, empty, and whole instructions not ending in RET.
  sock_filter load = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4);
  std::string notEndingInRet(reinterpret_cast<const char*>(&load), sizeof load);
  for (const std::string& garbage : {std::string("12345"), std::string(),
                                     notEndingInRet}) {
    ASSERT_TRUE(fs::writeFileAtomic(file, garbage));
    auto program = compileSeccompCached(p, tmp.path());
    ASSERT_TRUE(program) << program.error().message;
    EXPECT_TRUE(sameProgram(*program, *direct));
    auto bytes = fs::readFile(file);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), direct->instructions.size() * sizeof(sock_filter));
  }
}

TEST(SeccompCache, InvalidProfileIsAnErrorEvenWithCache) {
  TempDir tmp;
  SeccompProfile p = allowByDefault();
  p.defaultAction = "SCMP_ACT_NOPE";
  auto program = compileSeccompCached(p, tmp.path());
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message,
            "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
}

TEST(SeccompCache, LargeProfileTimingAndInstall) {
  TempDir tmp;
  SeccompProfile p = largeProfile();
  ASSERT_GT(p.syscalls[0].names.size(), 350u);
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto miss = compileSeccompCached(p, tmp.path());
  auto t1 = Clock::now();
  auto hit = compileSeccompCached(p, tmp.path());
  auto t2 = Clock::now();
  auto warmHit = compileSeccompCached(p, tmp.path());
  auto t3 = Clock::now();
  ASSERT_TRUE(miss) << miss.error().message;
  ASSERT_TRUE(warmHit) << warmHit.error().message;
  ASSERT_TRUE(hit) << hit.error().message;
  EXPECT_TRUE(sameProgram(*miss, *hit));
  auto us = [](auto d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  };
  std::printf("[   INFO   ] %zu names x 3 arches -> %zu instructions; "
              "compile+write %lld us, first hit %lld us, second hit %lld us\n",
              p.syscalls[0].names.size(), hit->instructions.size(),
              static_cast<long long>(us(t1 - t0)),
              static_cast<long long>(us(t2 - t1)),
              static_cast<long long>(us(t3 - t2)));

  // The cached program works: allowed calls succeed, the omitted one and
  // anything unlisted get the default EPERM.
  auto errnos = probeWith(*hit, {
      [] { return ::getpid() > 0; },
      [] { char buf[4096]; return ::getcwd(buf, sizeof buf) != nullptr; },
  });
  EXPECT_EQ(errnos, (std::vector<int>{0, EPERM}));
}

}  // namespace
}  // namespace nucleo::os
