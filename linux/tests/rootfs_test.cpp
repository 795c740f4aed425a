#include "linux/rootfs.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>

#include "base/fs.hpp"
#include "base/strings.hpp"

namespace nucleo::os {
namespace {

TEST(RootfsPropagation, MapsOciNames) {
  EXPECT_EQ(*rootPropagationFlags(""), unsigned(MS_SLAVE | MS_REC));
  EXPECT_EQ(*rootPropagationFlags("rshared"), unsigned(MS_SHARED | MS_REC));
  EXPECT_EQ(*rootPropagationFlags("private"), unsigned(MS_PRIVATE));
  auto bad = rootPropagationFlags("nosuid");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'nosuid'"), std::string::npos);
}

TEST(Devices, DefaultsAreRuncs) {
  std::map<std::string, std::pair<int64_t, int64_t>> want = {
      {"/dev/null", {1, 3}},    {"/dev/zero", {1, 5}}, {"/dev/full", {1, 7}},
      {"/dev/random", {1, 8}},  {"/dev/urandom", {1, 9}},
      {"/dev/tty", {5, 0}}};
  auto devs = defaultDevices();
  ASSERT_EQ(devs.size(), want.size());
  for (const auto& d : devs) {
    ASSERT_TRUE(want.count(d.path)) << d.path;
    EXPECT_EQ(std::make_pair(d.major, d.minor), want[d.path]) << d.path;
    EXPECT_EQ(d.type, 'c');
    EXPECT_EQ(d.fileMode.value_or(0), 0666u);
  }
}

// Results travel from the container child as "key=value" lines.
using Report = std::map<std::string, std::string>;

void put(int fd, const std::string& key, const std::string& value) {
  std::string line = key + "=" + value + "\n";
  (void)!::write(fd, line.data(), line.size());
}

// Runs fn in a grandchild that is pid 1 of a new pid namespace, inside a new
// mount namespace whose "/" is rprivate: no mount can reach the host.
Report runContained(const std::function<void(int)>& fn) {
  auto pipe = makePipe();
  if (!pipe) return {{"error", pipe.error().message}};
  auto& [rd, wr] = *pipe;
  pid_t child = ::fork();
  if (child == 0) {
    rd.reset();
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) < 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
      put(wr.get(), "error", std::string("unshare: ") + strerror(errno));
      ::_exit(1);
    }
    pid_t init = ::fork();
    if (init == 0) {
      fn(wr.get());
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(init, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 2);
  }
  wr.reset();
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  int status = 0;
  ::waitpid(child, &status, 0);
  Report out;
  for (const auto& line : strings::split(text, '\n', true)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  out["exit"] = std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return out;
}

std::string readOr(const std::string& path, const std::string& fallback) {
  auto r = fs::readFile(path);
  return r ? *r : fallback + ":" + r.error().message;
}

std::string errnoOfCreate(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return "created";
  }
  return strerrorname_np(errno);
}

int64_t fsTypeOf(const std::string& path) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 ? int64_t(st.f_type) : -1;
}

std::string listDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return std::string("error:") + strerrorname_np(errno);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  return strings::join(names, ",");
}

std::string linkOf(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, size_t(n));
}

class RootfsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for mount namespaces";
    if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs busybox-static";
    char tmpl[] = "/tmp/nucleo-rootfs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    rootfs_ = dir_ + "/rootfs";
    hostDir_ = dir_ + "/host";
    for (auto d : {"/bin", "/proc", "/dev", "/sys", "/etc", "/secretdir",
                   "/rodir", "/mnt"}) {
      ASSERT_TRUE(fs::makeDirs(rootfs_ + d));
    }
    ASSERT_TRUE(fs::makeDirs(hostDir_));
    ASSERT_TRUE(fs::writeFileAtomic(rootfs_ + "/marker", "nucleo-rootfs"));
    ASSERT_TRUE(fs::writeFileAtomic(rootfs_ + "/secret", "top secret"));
    ASSERT_TRUE(fs::writeFileAtomic(rootfs_ + "/secretdir/key", "k"));
    ASSERT_TRUE(fs::writeFileAtomic(hostDir_ + "/hello", "hi"));
    ASSERT_EQ(::symlink("/etc", (rootfs_ + "/evil").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../etc", (rootfs_ + "/abs").c_str()), 0);
    auto bb = fs::readFile("/bin/busybox");
    ASSERT_TRUE(bb);
    ASSERT_TRUE(fs::writeFileAtomic(rootfs_ + "/bin/busybox", *bb, 0755));
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::removeAll(dir_);
  }

  RootfsPlan ociPlan() const {
    RootfsPlan p;
    p.rootfs = rootfs_;
    p.readonly = true;
    p.mounts = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev", "tmpfs", "tmpfs",
         {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts", "devpts", "devpts",
         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
          "gid=5"}},
        {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "size=64k"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
        {"/sys/fs/cgroup", "cgroup", "cgroup",
         {"nosuid", "noexec", "nodev", "relatime", "ro"}},
        {"/mnt/host", "bind", hostDir_, {"rbind", "ro"}},
        {"/evil/nucleo-probe", "bind", hostDir_, {"bind"}},
        {"abs/nucleo-probe2", "tmpfs", "tmpfs", {"size=16k"}},
    };
    p.maskedPaths = {"/proc/kcore", "/secret", "/secretdir", "/no/such/path"};
    p.readonlyPaths = {"/rodir", "/proc/sys", "/no/such/dir"};
    return p;
  }

  std::string dir_, rootfs_, hostDir_;
};

// Everything below runs as pid 1 of the container, after the pivot.
void checkInside(int out) {
  put(out, "marker", readOr("/marker", "missing"));
  put(out, "pid", std::to_string(::getpid()));
  put(out, "proc_self", linkOf("/proc/self"));
  put(out, "proc_is_proc", std::to_string(fsTypeOf("/proc") == PROC_SUPER_MAGIC));
  struct stat st;
  bool null = ::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) &&
              st.st_rdev == makedev(1, 3) && (st.st_mode & 0777) == 0666;
  put(out, "dev_null", std::to_string(null));
  put(out, "dev_ptmx", linkOf("/dev/ptmx"));
  put(out, "dev_fd", linkOf("/dev/fd"));
  put(out, "dev_is_tmpfs", std::to_string(fsTypeOf("/dev") == TMPFS_MAGIC));
  put(out, "write_root", errnoOfCreate("/newfile"));
  put(out, "write_dev_shm", errnoOfCreate("/dev/shm/ok"));
  put(out, "secret", readOr("/secret", "unreadable"));
  put(out, "secretdir", listDir("/secretdir"));
  put(out, "kcore", readOr("/proc/kcore", "unreadable").substr(0, 10));
  put(out, "write_rodir", errnoOfCreate("/rodir/x"));
  put(out, "host_hello", readOr("/mnt/host/hello", "missing"));
  put(out, "write_host_bind", errnoOfCreate("/mnt/host/x"));
  put(out, "probe_hello", readOr("/etc/nucleo-probe/hello", "missing"));
  put(out, "probe2_is_tmpfs",
      std::to_string(fsTypeOf("/etc/nucleo-probe2") == TMPFS_MAGIC));
  put(out, "sys_is_sysfs", std::to_string(fsTypeOf("/sys") == SYSFS_MAGIC));
  put(out, "cgroup_memory", std::to_string(fsTypeOf("/sys/fs/cgroup/memory")));
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/busybox", "busybox", "grep", "-q", "nucleo", "/marker",
            nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  put(out, "busybox_exit", std::to_string(WEXITSTATUS(status)));
}

void buildAndCheck(const RootfsPlan& plan, int out) {
  auto rootfd = prepareRootfs(plan);
  if (!rootfd) return put(out, "error", "prepare: " + rootfd.error().message);
  if (auto st = enterRootfs(plan, rootfd->get()); !st) {
    return put(out, "error", "enter: " + st.error().message);
  }
  if (auto st = finishRootfs(plan); !st) {
    return put(out, "error", "finish: " + st.error().message);
  }
  checkInside(out);
}

TEST_F(RootfsRoot, ROOT_OciContainerRootfs) {
  RootfsPlan plan = ociPlan();
  Report r = runContained([&](int out) { buildAndCheck(plan, out); });
  ASSERT_EQ(r["error"], "");
  EXPECT_EQ(r["exit"], "0");
  EXPECT_EQ(r["marker"], "nucleo-rootfs");
  EXPECT_EQ(r["pid"], "1");
  EXPECT_EQ(r["proc_self"], "1");  // the new pid namespace's procfs
  EXPECT_EQ(r["proc_is_proc"], "1");
  EXPECT_EQ(r["dev_null"], "1");
  EXPECT_EQ(r["dev_ptmx"], "pts/ptmx");
  EXPECT_EQ(r["dev_fd"], "/proc/self/fd");
  EXPECT_EQ(r["dev_is_tmpfs"], "1");
  EXPECT_EQ(r["write_root"], "EROFS");
  EXPECT_EQ(r["write_dev_shm"], "created");
  EXPECT_EQ(r["secret"], "");
  EXPECT_EQ(r["secretdir"], "");
  if (fs::exists("/proc/kcore")) {
    EXPECT_EQ(r["kcore"], "");
  }
  EXPECT_EQ(r["write_rodir"], "EROFS");
  EXPECT_EQ(r["host_hello"], "hi");
  EXPECT_EQ(r["write_host_bind"], "EROFS");
  EXPECT_EQ(r["probe_hello"], "hi");
  EXPECT_EQ(r["probe2_is_tmpfs"], "1");
  EXPECT_EQ(r["sys_is_sysfs"], "1");
  if (fs::exists("/sys/fs/cgroup/memory")) {
    EXPECT_EQ(r["cgroup_memory"], std::to_string(CGROUP_SUPER_MAGIC));
  }
  EXPECT_EQ(r["busybox_exit"], "0");
  // Symlinked destinations landed in the rootfs, never on the host.
  EXPECT_FALSE(fs::exists("/etc/nucleo-probe"));
  EXPECT_FALSE(fs::exists("/etc/nucleo-probe2"));
  EXPECT_TRUE(fs::exists(rootfs_ + "/etc/nucleo-probe"));
  EXPECT_TRUE(fs::exists(rootfs_ + "/etc/nucleo-probe2"));
  // Nothing leaked into the host's mount table.
  EXPECT_EQ(readOr("/proc/self/mountinfo", "").find(dir_), std::string::npos);
}

TEST_F(RootfsRoot, ROOT_NoPivotChroots) {
  RootfsPlan plan;
  plan.rootfs = rootfs_;
  plan.noPivot = true;
  plan.mounts = {{"/proc", "proc", "proc", {}},
                 {"/dev", "tmpfs", "tmpfs", {"mode=755"}}};
  Report r = runContained([&](int out) {
    auto rootfd = prepareRootfs(plan);
    if (!rootfd) return put(out, "error", rootfd.error().message);
    if (auto st = enterRootfs(plan, rootfd->get()); !st) {
      return put(out, "error", st.error().message);
    }
    put(out, "marker", readOr("/marker", "missing"));
    struct stat st;
    put(out, "dev_zero", std::to_string(::stat("/dev/zero", &st) == 0 &&
                                        st.st_rdev == makedev(1, 5)));
  });
  ASSERT_EQ(r["error"], "");
  EXPECT_EQ(r["marker"], "nucleo-rootfs");
  EXPECT_EQ(r["dev_zero"], "1");
}

std::string describeNode(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) return strerrorname_np(errno);
  char kind = S_ISCHR(st.st_mode) ? 'c' : S_ISFIFO(st.st_mode) ? 'p' : '?';
  return fmt::format("{} {}:{} {:o} {}:{}", kind, major(st.st_rdev),
                     minor(st.st_rdev), st.st_mode & 07777, st.st_uid, st.st_gid);
}

TEST_F(RootfsRoot, ROOT_ConfiguredDevices) {
  for (bool userns : {false, true}) {
    RootfsPlan plan;
    plan.rootfs = rootfs_;
    plan.userNamespace = userns;
    plan.mounts = {{"/dev", "tmpfs", "tmpfs", {"mode=755"}}};
    DeviceEntry mine{"/dev/deep/mynull", 'c', 1, 3, 0640, 1000, 1001};
    DeviceEntry fifo{"/dev/myfifo", 'p', 0, 0, 0600, std::nullopt, std::nullopt};
    // In a user namespace devices are host binds: /dev/mynull has no host node.
    if (!userns) plan.devices = {mine, fifo};
    Report r = runContained([&](int out) {
      auto rootfd = prepareRootfs(plan);
      if (!rootfd) return put(out, "error", rootfd.error().message);
      if (auto st = enterRootfs(plan, rootfd->get()); !st) {
        return put(out, "error", st.error().message);
      }
      put(out, "null", describeNode("/dev/null"));
      put(out, "tty", describeNode("/dev/tty"));
      put(out, "mine", describeNode("/dev/deep/mynull"));
      put(out, "fifo", describeNode("/dev/myfifo"));
      put(out, "stdin", linkOf("/dev/stdin"));
    });
    ASSERT_EQ(r["error"], "") << "userns=" << userns;
    EXPECT_EQ(r["null"], "c 1:3 666 0:0") << "userns=" << userns;
    EXPECT_EQ(r["tty"].substr(0, 5), "c 5:0") << "userns=" << userns;
    EXPECT_EQ(r["stdin"], "/proc/self/fd/0");
    if (!userns) {
      EXPECT_EQ(r["mine"], "c 1:3 640 1000:1001");
      EXPECT_EQ(r["fifo"], "p 0:0 600 0:0");
    }
  }
}

// CVE-2019-19921: /proc in the image is a symlink to a regular file.
TEST_F(RootfsRoot, ROOT_ProcOverNonDirectoryRefused) {
  ASSERT_TRUE(fs::writeFileAtomic(rootfs_ + "/procfile", "x"));
  ASSERT_EQ(::rmdir((rootfs_ + "/proc").c_str()), 0);
  ASSERT_EQ(::symlink("/procfile", (rootfs_ + "/proc").c_str()), 0);
  RootfsPlan plan;
  plan.rootfs = rootfs_;
  plan.mounts = {{"/proc", "proc", "proc", {}}};
  Report r = runContained([&](int out) {
    auto rootfd = prepareRootfs(plan);
    put(out, "error", rootfd ? "" : rootfd.error().message);
  });
  EXPECT_NE(r["error"].find("'/proc'"), std::string::npos) << r["error"];
  EXPECT_NE(r["error"].find("not a directory"), std::string::npos) << r["error"];
}

TEST_F(RootfsRoot, ROOT_BindInsideProcRefused) {
  RootfsPlan plan;
  plan.rootfs = rootfs_;
  plan.mounts = {{"/proc", "proc", "proc", {}},
                 {"/proc/sys/kernel", "bind", hostDir_, {"bind"}},
                 {"/proc/uptime", "bind", hostDir_ + "/hello", {"bind"}}};
  Report r = runContained([&](int out) {
    auto rootfd = prepareRootfs(plan);
    put(out, "error", rootfd ? "" : rootfd.error().message);
  });
  EXPECT_NE(r["error"].find("'/proc/sys/kernel' is inside /proc"),
            std::string::npos)
      << r["error"];
}

TEST_F(RootfsRoot, ROOT_RefusedOptionNamesMount) {
  RootfsPlan plan;
  plan.rootfs = rootfs_;
  plan.mounts = {{"/tmp", "tmpfs", "tmpfs", {"tmpcopyup"}}};
  Report r = runContained([&](int out) {
    auto rootfd = prepareRootfs(plan);
    put(out, "error", rootfd ? "" : rootfd.error().message);
  });
  EXPECT_NE(r["error"].find("'/tmp'"), std::string::npos) << r["error"];
  EXPECT_NE(r["error"].find("'tmpcopyup'"), std::string::npos) << r["error"];
}

}  // namespace
}  // namespace nucleo::os
