// Differential tests: the same bundle under several runtimes must give the
// helper the same view (ids, caps, rlimits, mounts, namespaces...). crun vs
// runc is the baseline; nucleo is compared against both once it can `run`.

#include <functional>

#include <gmock/gmock.h>

#include "integration-tests/runtime/fixture.hpp"

namespace nucleo::itest {
namespace {

using ::testing::IsEmpty;

// The helper's probes, so that differences in syscall permission show up.
const std::vector<std::string> PROBE_ARGS = {
    "--try-syscall", "mkdir",  "--try-syscall", "chmod",
    "--try-syscall", "getcwd", "--try-syscall", "unshare",
    "--try-syscall", "personality", "--try-syscall", "mount",
    "--try-syscall", "ptrace", "--try-syscall", "keyctl",
    "--writable",    "/",      "/tmp", "/dev/shm", "/proc/sys/kernel/hostname",
    "--readable",    "/etc/passwd", "/proc/kcore"};

// A config with non-default process fields, to compare more than defaults.
void customize(Bundle& b) {
  b.setUser(1000, 100, {2000})
      .setHostname("nucleo-diff")
      .setCwd("/tmp")
      .setEnv({"PATH=/bin", "NUCLEO_DIFF=1"})
      .setRlimit("RLIMIT_NOFILE", 512, 4096)
      .setRlimit("RLIMIT_CORE", 0, 0)
      .setCapabilities({"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"})
      .addMount("/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "size=1m"});
}

// Differences that exist between crun 1.8 and runc 1.1 and are not bugs:
// - "mount:" keys of masked paths are compared for presence only (crun bind
//   mounts the host's /dev/null, a devtmpfs; runc the container's, a tmpfs).
// - fds: each runtime leaks different descriptors of its own into the
//   process; they are not part of the view at all.
// Everything else in the view must agree.
const std::set<std::string> CRUN_RUNC_IGNORED = {};

class Differential : public RuntimeFixture {
 protected:
  // Runs the helper under each of `names` with the same edits, returns views.
  std::vector<View> views(const std::vector<const Runtime*>& rts,
                          const std::function<void(Bundle&)>& edit) {
    std::vector<View> out;
    auto hostNs = hostNamespaces();
    for (const Runtime* rt : rts) {
      auto b = bundle();
      if (!b) return {};
      b->setHelperArgs(PROBE_ARGS);
      edit(*b);
      auto report = runHelper(*rt, *b, "diff");
      EXPECT_TRUE(report) << report.error().message;
      if (!report) return {};
      out.push_back(flatten(*report, hostNs, maskedPaths()));
    }
    return out;
  }

  void compare(const std::vector<const Runtime*>& rts,
               const std::function<void(Bundle&)>& edit) {
    auto v = views(rts, edit);
    ASSERT_EQ(v.size(), rts.size());
    ASSERT_GT(v[0].size(), 40u) << "the helper's report is nearly empty";
    for (size_t i = 1; i < v.size(); ++i) {
      EXPECT_THAT(differences(v[0], v[i], CRUN_RUNC_IGNORED), IsEmpty())
          << "a=" << rts[0]->name() << " b=" << rts[i]->name();
    }
  }
};

TEST_F(Differential, ROOT_CrunMatchesRuncOnDefaultConfig) {
  USE_RUNTIME(crun, "crun");
  USE_RUNTIME(runc, "runc");
  compare({runc, crun}, [](Bundle&) {});
}

TEST_F(Differential, ROOT_CrunMatchesRuncOnCustomConfig) {
  USE_RUNTIME(crun, "crun");
  USE_RUNTIME(runc, "runc");
  compare({runc, crun}, customize);
}

TEST_F(Differential, ROOT_NucleoMatchesRuncAndCrunOnDefaultConfig) {
  USE_RUNTIME(nucleo, "nucleo");
  USE_RUNTIME(runc, "runc");
  USE_RUNTIME(crun, "crun");
  compare({nucleo, runc, crun}, [](Bundle&) {});
}

TEST_F(Differential, ROOT_NucleoMatchesRuncAndCrunOnCustomConfig) {
  USE_RUNTIME(nucleo, "nucleo");
  USE_RUNTIME(runc, "runc");
  USE_RUNTIME(crun, "crun");
  compare({nucleo, runc, crun}, customize);
}

// What each runtime must set up for the default (`runc spec`) config,
// asserted on absolute values rather than against another runtime.
class DefaultConfig : public RuntimeFixture,
                      public ::testing::WithParamInterface<std::string> {};

TEST_P(DefaultConfig, ROOT_HelperSeesTheConfiguredContainer) {
  USE_RUNTIME(rt, GetParam());
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setHelperArgs(PROBE_ARGS);
  auto report = runHelper(*rt, *b, "default");
  ASSERT_TRUE(report) << report.error().message;
  View v = flatten(*report, hostNamespaces(), maskedPaths());

  EXPECT_EQ(v["pid"], "1");
  EXPECT_EQ(v["hostname"], "runc");
  EXPECT_EQ(v["uid"], "0");
  EXPECT_EQ(v["gid"], "0");
  EXPECT_EQ(v["cwd"], "/");
  // CAP_AUDIT_WRITE | CAP_KILL | CAP_NET_BIND_SERVICE.
  EXPECT_EQ(v["caps.CapEff"], "0000000020000420");
  EXPECT_EQ(v["caps.CapPrm"], "0000000020000420");
  EXPECT_EQ(v["caps.CapBnd"], "0000000020000420");
  EXPECT_EQ(v["no_new_privs"], "1");
  EXPECT_EQ(v["rlimit.nofile.soft"], "1024");
  EXPECT_EQ(v["rlimit.nofile.hard"], "1024");
  for (const char* ns : {"pid", "net", "ipc", "uts", "mnt"}) {
    EXPECT_EQ(v[std::string("ns.") + ns + ".private"], "true") << ns;
  }
  EXPECT_EQ(v["mount:/"], "ext4") << "rootfs from the host's /tmp";
  EXPECT_EQ(v["mount:/proc"], "proc");
  EXPECT_EQ(v["mount:/dev"], "tmpfs");
  EXPECT_EQ(v["mount:/dev/pts"], "devpts");
  EXPECT_EQ(v["mount:/dev/shm"], "tmpfs");
  EXPECT_EQ(v["mount:/dev/mqueue"], "mqueue");
  EXPECT_EQ(v["mount:/sys"], "sysfs");
  EXPECT_EQ(v["writable:/"], "EROFS") << "root.readonly is true";
  EXPECT_EQ(v["writable:/tmp"], "EROFS");
  EXPECT_EQ(v["writable:/dev/shm"], "ok");
  EXPECT_EQ(v["writable:/proc/sys/kernel/hostname"], "EROFS") << "readonlyPaths";
  EXPECT_EQ(v["syscalls:mount"], "EPERM") << "no CAP_SYS_ADMIN";
  EXPECT_EQ(v["syscalls:mkdir"], "EROFS");
}

TEST_P(DefaultConfig, ROOT_HelperSeesCustomUserLimitsAndCaps) {
  USE_RUNTIME(rt, GetParam());
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setHelperArgs(PROBE_ARGS);
  customize(*b);
  auto report = runHelper(*rt, *b, "custom");
  ASSERT_TRUE(report) << report.error().message;
  View v = flatten(*report, hostNamespaces(), maskedPaths());

  EXPECT_EQ(v["uid"], "1000");
  EXPECT_EQ(v["euid"], "1000");
  EXPECT_EQ(v["gid"], "100");
  EXPECT_EQ(v["groups"], "[2000]");
  EXPECT_EQ(v["hostname"], "nucleo-diff");
  EXPECT_EQ(v["cwd"], "/tmp");
  EXPECT_EQ(v["rlimit.nofile.soft"], "512");
  EXPECT_EQ(v["rlimit.nofile.hard"], "4096");
  EXPECT_EQ(v["rlimit.core.hard"], "0");
  // CHOWN(0) | KILL(5) | NET_RAW(13) | SYS_ADMIN(21): a non-root user keeps
  // them only through the ambient set (which needs them inheritable too).
  EXPECT_EQ(v["caps.CapBnd"], "0000000000202021");
  EXPECT_EQ(v["caps.CapAmb"], "0000000000202021");
  EXPECT_EQ(v["caps.CapEff"], "0000000000202021");
  EXPECT_EQ(v["mount:/scratch"], "tmpfs");
  EXPECT_EQ(v["syscalls:mount"], "ENODEV") << "CAP_SYS_ADMIN allows mount";
}

INSTANTIATE_TEST_SUITE_P(Runtimes, DefaultConfig,
                         ::testing::Values("crun", "runc", "nucleo"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace nucleo::itest
