#include "linux/mount.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.hpp"

namespace nucleo::os {
namespace {

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  return out;
}

MountOptions parseOk(const std::vector<std::string>& options) {
  auto r = parseMountOptions(options);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : MountOptions{};
}

TEST(MountOptions, OciDefaultProc) {
  auto o = parseOk({"nosuid", "noexec", "nodev"});
  EXPECT_EQ(o.flags, unsigned(MS_NOSUID | MS_NOEXEC | MS_NODEV));
  EXPECT_EQ(o.data, "");
  EXPECT_FALSE(o.bind);
}

TEST(MountOptions, OciDefaultDevTmpfsKeepsSizeAndModeAsData) {
  auto o = parseOk({"nosuid", "strictatime", "mode=755", "size=65536k"});
  EXPECT_EQ(o.flags, unsigned(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(o.data, "mode=755,size=65536k");
}

TEST(MountOptions, OciDefaultDevpts) {
  auto o = parseOk({"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                    "mode=0620", "gid=5"});
  EXPECT_EQ(o.flags, unsigned(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
}

TEST(MountOptions, OciDefaultSysAndCgroupAreReadOnly) {
  auto sys = parseOk({"nosuid", "noexec", "nodev", "ro"});
  EXPECT_EQ(sys.flags, unsigned(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  auto cg = parseOk({"nosuid", "noexec", "nodev", "relatime", "ro"});
  EXPECT_EQ(cg.flags,
            unsigned(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY));
  EXPECT_EQ(cg.data, "");
}

TEST(MountOptions, LaterOptionWins) {
  auto o = parseOk({"ro", "rw", "nosuid", "suid"});
  EXPECT_EQ(o.flags, 0u);
  EXPECT_EQ(o.clearFlags, unsigned(MS_RDONLY | MS_NOSUID));
}

TEST(MountOptions, BindAndPropagation) {
  auto o = parseOk({"rbind", "ro", "rslave", "private"});
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursiveBind);
  EXPECT_EQ(o.flags, unsigned(MS_RDONLY));
  ASSERT_EQ(o.propagation.size(), 2u);
  EXPECT_EQ(o.propagation[0], unsigned(MS_SLAVE | MS_REC));
  EXPECT_EQ(o.propagation[1], unsigned(MS_PRIVATE));
}

TEST(MountOptions, RecursiveAttributes) {
  auto o = parseOk({"bind", "rro", "rnosuid", "rnoatime"});
  EXPECT_EQ(o.flags, 0u);
  EXPECT_EQ(o.attrSet,
            uint64_t(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME));
  // The kernel wants the whole atime mask cleared when the mode changes.
  EXPECT_EQ(o.attrClear, uint64_t(MOUNT_ATTR__ATIME));
  auto back = parseOk({"rro", "rrw"});
  EXPECT_EQ(back.attrSet, 0u);
  EXPECT_EQ(back.attrClear, uint64_t(MOUNT_ATTR_RDONLY));
}

TEST(MountOptions, RefusedOptionsNameTheOption) {
  for (const char* opt : {"tmpcopyup", "idmap", "ridmap"}) {
    auto r = parseMountOptions({"nosuid", opt});
    ASSERT_FALSE(r) << opt;
    EXPECT_NE(r.error().message.find(opt), std::string::npos) << r.error().message;
  }
}

TEST(MountOptions, XOptionsAreIgnored) {
  auto o = parseOk({"x-systemd.automount", "ro", "defaults"});
  EXPECT_EQ(o.flags, unsigned(MS_RDONLY));
  EXPECT_EQ(o.data, "");
}

TEST(MountOptions, MsFlagsToAttrForBindRemount) {
  uint64_t set = 0, clear = 0;
  msFlagsToAttr(MS_RDONLY | MS_NOSUID | MS_NOATIME | MS_SYNCHRONOUS, MS_NODEV,
                &set, &clear);
  EXPECT_EQ(set, uint64_t(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                          MOUNT_ATTR_NOATIME));
  EXPECT_EQ(clear, uint64_t(MOUNT_ATTR_NODEV | MOUNT_ATTR__ATIME));
}

// A scratch directory removed at the end of each test.
class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nucleo-mount-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto fd = UniqueFd::open(dir_, O_PATH | O_DIRECTORY);
    ASSERT_TRUE(fd);
    root_ = std::move(*fd);
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  std::string dir_;
  UniqueFd root_;
};

using OpenInRoot = TempDir;

TEST_F(OpenInRoot, AbsoluteSymlinkStaysInside) {
  ASSERT_EQ(::symlink("/etc", (dir_ + "/evil").c_str()), 0);
  // The host has /etc/passwd; the rootfs has no etc at all.
  auto r = openInRoot(root_.get(), "evil/passwd", O_RDONLY);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOENT);
  ASSERT_TRUE(fs::makeDirs(dir_ + "/etc"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/etc/passwd", "inside\n"));
  auto in = openInRoot(root_.get(), "/evil/passwd", O_RDONLY);
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(readAll(in->get()), "inside\n");
}

TEST_F(OpenInRoot, DotDotClampsToRoot) {
  ASSERT_EQ(::symlink("../../../../etc", (dir_ + "/abs").c_str()), 0);
  ASSERT_TRUE(fs::makeDirs(dir_ + "/etc"));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/etc/hostname", "container\n"));
  for (const char* p : {"abs/hostname", "../../../etc/hostname",
                        "/etc/../../../../etc/hostname"}) {
    auto fd = openInRoot(root_.get(), p, O_RDONLY);
    ASSERT_TRUE(fd) << p << ": " << fd.error().message;
    EXPECT_EQ(readAll(fd->get()), "container\n") << p;
  }
}

TEST(OpenInRootMagic, ProcMagicLinksRefused) {
  // With the host root as root, /proc/self/root is a real procfs magic link
  // that would jump out of any root: it must be refused, not followed.
  auto host = UniqueFd::open("/", O_PATH | O_DIRECTORY);
  ASSERT_TRUE(host);
  auto r = openInRoot(host->get(), "/proc/self/root/etc/passwd", O_RDONLY);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ELOOP);
  EXPECT_NE(r.error().message.find("/proc/self/root"), std::string::npos);
}

using EnsureMountTarget = TempDir;

TEST_F(EnsureMountTarget, CreatesDirectoriesThroughSymlinksInsideRoot) {
  ASSERT_TRUE(fs::makeDirs(dir_ + "/etc"));
  ASSERT_EQ(::symlink("/etc", (dir_ + "/evil").c_str()), 0);
  auto fd = ensureMountTarget(root_.get(), "/evil/nucleo-probe/deep", true);
  ASSERT_TRUE(fd) << fd.error().message;
  struct stat st;
  EXPECT_EQ(::stat((dir_ + "/etc/nucleo-probe/deep").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_FALSE(fs::exists("/etc/nucleo-probe"));
}

TEST_F(EnsureMountTarget, CreatesFileAsLastComponent) {
  auto fd = ensureMountTarget(root_.get(), "a/b/file", false);
  ASSERT_TRUE(fd) << fd.error().message;
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/a/b/file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(EnsureMountTarget, WrongTypeIsAnErrorNamingThePath) {
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/procfile", "x"));
  ASSERT_EQ(::symlink("procfile", (dir_ + "/proc").c_str()), 0);
  auto r = ensureMountTarget(root_.get(), "/proc", true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOTDIR);
  EXPECT_NE(r.error().message.find("'/proc'"), std::string::npos);
}

TEST(MountInfo, ParsesKernelLines) {
  const char* text =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "36 35 98:0 /mnt1 /mnt/parent\\040dir rw,noatime master:1 shared:7 - "
      "ext3 /dev/root rw,errors=continue\n"
      "garbage line\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
      "rw,name=systemd\n";
  auto mounts = parseMountInfo(text);
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].id, 31);
  EXPECT_EQ(mounts[0].parent, 23);
  EXPECT_EQ(mounts[0].fsType, "tmpfs");
  EXPECT_EQ(mounts[0].superOptions, "rw,mode=755");
  EXPECT_TRUE(mounts[0].optionalFields.empty());
  EXPECT_EQ(mounts[1].root, "/mnt1");
  EXPECT_EQ(mounts[1].mountPoint, "/mnt/parent dir");
  EXPECT_EQ(mounts[1].options, "rw,noatime");
  EXPECT_EQ(mounts[1].optionalFields,
            (std::vector<std::string>{"master:1", "shared:7"}));
  EXPECT_EQ(mounts[1].source, "/dev/root");
  EXPECT_EQ(mounts[2].superOptions, "rw,name=systemd");

  auto* m = findMountFor(mounts, "/sys/fs/cgroup/systemd/user.slice");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->id, 40);
  EXPECT_EQ(findMountFor(mounts, "/sys/fs/cgroupx"), nullptr);
}

TEST(MountInfo, ParsesThisProcess) {
  auto text = fs::readFile("/proc/self/mountinfo");
  ASSERT_TRUE(text);
  auto mounts = parseMountInfo(*text);
  ASSERT_FALSE(mounts.empty());
  auto* root = findMountFor(mounts, "/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->mountPoint, "/");
  auto* proc = findMountFor(mounts, "/proc/self");
  ASSERT_NE(proc, nullptr);
  EXPECT_EQ(proc->fsType, "proc");
}

TEST(MountId, DiffersAcrossMounts) {
  auto root = UniqueFd::open("/", O_PATH);
  auto proc = UniqueFd::open("/proc", O_PATH);
  ASSERT_TRUE(root && proc);
  auto a = mountIdOf(root->get());
  auto b = mountIdOf(proc->get());
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  auto isRoot = isMountRoot(proc->get());
  ASSERT_TRUE(isRoot);
  EXPECT_TRUE(*isRoot);
  auto self = UniqueFd::open("/proc/self", O_PATH);
  ASSERT_TRUE(self);
  EXPECT_FALSE(*isMountRoot(self->get()));
}

}  // namespace
}  // namespace nucleo::os
