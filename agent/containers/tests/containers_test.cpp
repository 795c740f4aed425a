// Containers run for real: busybox image containers, host-filesystem ones,
// pods, kills, OOM, log rotation, an agent SIGKILLed and recovered. Root only.
#include "agent/containers/tests/containers_fixture.hpp"

namespace nucleo::agent {
namespace {

using namespace std::chrono_literals;

TEST_F(ContainersTest, ROOT_EchoFromImageGoesToSandboxStdout) {
  auto l = imageLaunch("echo", "echo hi; echo oops >&2; echo $MESOS_SANDBOX; pwd");
  auto start = std::chrono::steady_clock::now();
  auto pid = launch(l);
  std::printf("launch took %lld ms\n", static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - start).count()));
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_GT(*pid, 0);
  auto exit = waitExit("echo");
  EXPECT_TRUE(WIFEXITED(exit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0);
  EXPECT_FALSE(exit.oomKilled);
  EXPECT_FALSE(exit.killedByRequest);
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "hi\n/mnt/mesos/sandbox\n/mnt/mesos/sandbox\n");
  EXPECT_EQ(slurp(l.sandbox + "/stderr"), "oops\n");
}

TEST_F(ContainersTest, ROOT_UserHostnameEnvAndLimitsReachTheProcess) {
  auto l = imageLaunch("user", "id; hostname; echo $GREETING $MESOS_TASK_ID; cat /sys/fs/cgroup/memory/memory.limit_in_bytes");
  l.command.set_user("user");
  auto* v = l.command.mutable_environment()->add_variables();
  v->set_name("GREETING");
  v->set_value("hello");
  l.environment["MESOS_TASK_ID"] = "t-1";
  l.container->set_hostname("web-1");
  l.resources = {test_support::scalar("mem", 64)};
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  auto exit = waitExit("user");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0) << slurp(l.sandbox + "/stderr");
  auto lines = strings::split(slurp(l.sandbox + "/stdout"), '\n', true);
  ASSERT_GE(lines.size(), 3u) << slurp(l.sandbox + "/stdout");
  EXPECT_EQ(lines[0], "uid=1000(user) gid=100(users) groups=2000(extra)") << "from the image's /etc/passwd and /etc/group";
  EXPECT_EQ(lines[1], "web-1");
  EXPECT_EQ(lines[2], "hello t-1");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], std::to_string(64 << 20)) << "the cgroup's memory limit";
}

// A loopback docker-registry (Debian's) with the busybox image pushed by
// skopeo: an image missing from the store is pulled at launch.
TEST_F(ContainersTest, ROOT_MissingImageIsPulled) {
  if (!fs::exists("/usr/bin/docker-registry") || !fs::exists("/usr/bin/skopeo"))
    GTEST_SKIP() << "docker-registry and skopeo are not installed (scripts/install-deps)";
  std::string dir = base_ + "/registry";
  ASSERT_TRUE(fs::makeDirs(dir));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  std::string host = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  ASSERT_TRUE(fs::writeFileAtomic(dir + "/config.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " +
                                                           dir + "/data\nhttp:\n  addr: " + host + "\n"));
  pid_t registry = ::fork();
  if (registry == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl("/usr/bin/docker-registry", "docker-registry", "serve", (dir + "/config.yml").c_str(), nullptr);
    ::_exit(127);
  }
  std::string push = "skopeo copy --quiet --dest-tls-verify=false oci:" + std::string(NUCLEO_TEST_IMAGES) +
                     "/busybox-oci:latest docker://" + host + "/busybox:latest >/dev/null 2>&1";
  int pushed = 1;
  for (int i = 0; i < 50 && pushed != 0; ++i) {
    pushed = std::system(push.c_str());
    if (pushed != 0) std::this_thread::sleep_for(100ms);
  }
  options_.imageStoreRoot = base_ + "/empty-store";
  containers_.emplace(options_);
  auto l = imageLaunch("pulled", "echo pulled");
  l.container->mutable_mesos()->mutable_image()->mutable_docker()->set_name(host + "/busybox:latest");
  auto pid = pushed == 0 ? launch(l) : Result<pid_t>(Error::make("push failed"));
  if (pid) waitExit("pulled");
  ::kill(registry, SIGTERM);
  ::waitpid(registry, nullptr, 0);
  ASSERT_EQ(pushed, 0) << push;
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "pulled\n");
}

TEST_F(ContainersTest, ROOT_FailingCommandReportsItsExitCode) {
  auto l = imageLaunch("fail", "exit 7");
  ASSERT_TRUE(launch(l));
  auto exit = waitExit("fail");
  ASSERT_TRUE(WIFEXITED(exit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 7);
}

TEST_F(ContainersTest, ROOT_KillWithGraceTermThenKill) {
  auto trap = imageLaunch("trap", "trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.1; done");
  auto stubborn = imageLaunch("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.1; done");
  ASSERT_TRUE(launch(trap));
  ASSERT_TRUE(launch(stubborn));
  for (int i = 0; i < 100 && (slurp(trap.sandbox + "/stdout").empty() || slurp(stubborn.sandbox + "/stdout").empty()); ++i)
    std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(containers_->kill("trap", 5000ms));
  ASSERT_TRUE(containers_->kill("stubborn", 700ms));
  auto trapExit = waitExit("trap");
  EXPECT_TRUE(WIFEXITED(trapExit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(trapExit.waitStatus), 3);
  EXPECT_TRUE(trapExit.killedByRequest);
  EXPECT_EQ(slurp(trap.sandbox + "/stdout"), "ready\ngot-term\n");
  auto stubbornExit = waitExit("stubborn");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(WIFSIGNALED(stubbornExit.waitStatus));
  EXPECT_EQ(WTERMSIG(stubbornExit.waitStatus), SIGKILL);
  EXPECT_TRUE(stubbornExit.killedByRequest);
  EXPECT_GE(took, 600ms) << "SIGKILL only after the grace period";
  EXPECT_LT(took, 5000ms);
}

TEST_F(ContainersTest, ROOT_FailedLaunchLeavesNothingBehind) {
  auto unknownImage = imageLaunch("noimage", "true");
  unknownImage.container->mutable_mesos()->mutable_image()->mutable_docker()->set_name("127.0.0.1:1/none:latest");
  auto r1 = launch(unknownImage);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("none:latest"), std::string::npos) << r1.error().message;

  auto badUser = imageLaunch("baduser", "true");
  badUser.command.set_user("nosuchuser");
  auto r2 = launch(badUser);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("nosuchuser"), std::string::npos) << r2.error().message;

  auto badPath = imageLaunch("badpath", "");
  badPath.command.set_shell(false);
  badPath.command.set_value("/no/such/program");
  auto r3 = launch(badPath);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("/no/such/program"), std::string::npos) << r3.error().message;

  for (const char* id : {"noimage", "baduser", "badpath"}) {
    EXPECT_FALSE(fs::exists(options_.workDir + "/containers/" + id)) << id;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory" + options_.cgroupParent + "/" + id)) << id;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids" + options_.cgroupParent + "/" + id)) << id;
  }
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + options_.imageStoreRoot + "/containers 2>/dev/null)\"").c_str()), 0)
      << "no overlay left";
  EXPECT_NE(std::system("pgrep -f '[n]ucleo-supervisor container .*badpath' >/dev/null"), 0) << "no supervisor left";
}

TEST_F(ContainersTest, ROOT_MemoryLimitExceededIsOomKilled) {
  auto l = imageLaunch("oom", "dd if=/dev/zero of=/dev/null bs=200M count=1 && echo survived");
  l.resources = {test_support::scalar("mem", 32)};
  ASSERT_TRUE(launch(l));
  auto exit = waitExit("oom");
  EXPECT_TRUE(exit.oomKilled);
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "") << "dd was killed, so the shell never echoed";
  auto usage = containers_->usage("oom");
  ASSERT_TRUE(usage) << usage.error().message;
  EXPECT_EQ(usage->memoryLimitBytes, 32u << 20);
}

TEST_F(ContainersTest, ROOT_LogsRotatePastMaxBytes) {
  options_.maxLogBytes = 1000;
  containers_.emplace(options_);
  // 2500 bytes: 1000 go to the first file, 1000 to the second (which becomes
  // stdout.1, replacing the first), 500 stay in stdout.
  auto l = imageLaunch("logs", "for i in $(seq 1 25); do printf '%099d\n' $i; done");
  ASSERT_TRUE(launch(l));
  auto exit = waitExit("logs");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0);
  std::string current = slurp(l.sandbox + "/stdout"), rotated = slurp(l.sandbox + "/stdout.1");
  EXPECT_EQ(current.size(), 500u);
  EXPECT_EQ(rotated.size(), 1000u);
  EXPECT_EQ(rotated.substr(0, 100), std::string(97, '0') + "11\n");
  EXPECT_EQ(current.substr(400), std::string(97, '0') + "25\n");
}

TEST_F(ContainersTest, ROOT_SurvivesSigkillOfItsOwnerAndIsRecovered) {
  auto l = imageLaunch("survivor", "echo started; while [ ! -e go ]; do sleep 0.1; done; exit 5");
  launched_.push_back(l.containerId);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t owner = ::fork();
  if (owner == 0) {
    // A stand-in agent: launches, tells the parent, waits to be SIGKILLed.
    ::setpgid(0, 0);
    Containers mine(options_);
    auto pid = mine.launch(l);
    int value = pid ? *pid : -1;
    (void)!::write(fds[1], &value, sizeof value);
    ::pause();
    ::_exit(0);
  }
  ::close(fds[1]);
  int initPid = 0;
  ASSERT_EQ(::read(fds[0], &initPid, sizeof initPid), static_cast<ssize_t>(sizeof initPid));
  ::close(fds[0]);
  ASSERT_GT(initPid, 0);
  ASSERT_TRUE(waitForContent(l.sandbox + "/stdout"));
  ASSERT_EQ(::kill(-owner, SIGKILL), 0) << "the owner's whole process group";
  ASSERT_EQ(::waitpid(owner, nullptr, 0), owner);
  std::this_thread::sleep_for(200ms);

  Containers recovered(options_);
  auto all = recovered.recover();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].containerId, "survivor");
  EXPECT_EQ((*all)[0].phase, ContainerPhase::Running);
  EXPECT_EQ((*all)[0].pid, initPid);
  EXPECT_EQ(::kill(initPid, 0), 0) << "the container still runs";

  ASSERT_TRUE(fs::writeFileAtomic(l.sandbox + "/go", "", 0644));
  auto exit = waitExit("survivor");
  ASSERT_TRUE(WIFEXITED(exit.waitStatus));
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 5);
  auto after = recovered.recover();
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)[0].phase, ContainerPhase::Exited);
}

TEST_F(ContainersTest, ROOT_SupervisorKilledIsReportedAndItsContainerKilled) {
  auto l = imageLaunch("orphan", "echo started; sleep 1000");
  auto pid = launch(l);
  ASSERT_TRUE(pid);
  ASSERT_TRUE(waitForContent(l.sandbox + "/stdout"));
  pid_t sup = supervisorPid("orphan");
  ASSERT_GT(sup, 0);
  ASSERT_EQ(::kill(sup, SIGKILL), 0);
  std::this_thread::sleep_for(300ms);
  auto all = containers_->recover();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].phase, ContainerPhase::Exited);
  ASSERT_TRUE((*all)[0].exit);
  EXPECT_NE((*all)[0].exit->message.find("supervisor died"), std::string::npos) << (*all)[0].exit->message;
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i, std::this_thread::sleep_for(50ms)) gone = ::kill(*pid, 0) != 0;
  EXPECT_TRUE(gone) << "its container was killed";
}

TEST_F(ContainersTest, ROOT_PodSharesUtsIpcAndShmNotPid) {
  ASSERT_TRUE(containers_->createPod("pod-a"));
  pods_.push_back("pod-a");
  ASSERT_TRUE(containers_->createPod("pod-a")) << "idempotent";
  std::string report = "hostname; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; ";
  auto first = imageLaunch("pod-1", "echo hello > /dev/shm/msg; " + report + "while [ ! -e go ]; do sleep 0.1; done");
  first.podId = "pod-a";
  auto second = imageLaunch("pod-2", "cat /dev/shm/msg; " + report);
  second.podId = "pod-a";
  auto p1 = launch(first);
  ASSERT_TRUE(p1) << p1.error().message;
  ASSERT_TRUE(waitForContent(first.sandbox + "/stdout"));
  ASSERT_TRUE(launch(second));
  auto exit2 = waitExit("pod-2");
  EXPECT_EQ(WEXITSTATUS(exit2.waitStatus), 0) << slurp(second.sandbox + "/stderr");
  ASSERT_TRUE(fs::writeFileAtomic(first.sandbox + "/go", "", 0644));
  waitExit("pod-1");
  auto a = strings::split(slurp(first.sandbox + "/stdout"), '\n', true);
  auto b = strings::split(slurp(second.sandbox + "/stdout"), '\n', true);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[0], "hello") << "POSIX shm is shared";
  EXPECT_EQ(a[0], "pod-a");
  EXPECT_EQ(b[1], "pod-a") << "same hostname";
  EXPECT_EQ(a[1], b[2]) << "same UTS namespace";
  EXPECT_EQ(a[2], b[3]) << "same IPC namespace";
  EXPECT_NE(a[3], b[4]) << "separate pid namespaces";
  ASSERT_TRUE(containers_->destroyPod("pod-a"));
  auto orphan = imageLaunch("pod-3", "true");
  orphan.podId = "pod-a";
  EXPECT_FALSE(launch(orphan)) << "the pod is gone";
}

TEST_F(ContainersTest, ROOT_PodWithItsOwnNetwork) {
  ASSERT_TRUE(containers_->createPod("pod-net", true));
  pods_.push_back("pod-net");
  auto l = imageLaunch("net-1", "ls /sys/class/net; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo lo-up");
  l.podId = "pod-net";
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  auto exit = waitExit("net-1");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0) << slurp(l.sandbox + "/stderr");
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "lo\nlo-up\n") << "only loopback, and it is up";
}

TEST_F(ContainersTest, ROOT_LogFileReplacedBySymlinkIsNotFollowed) {
  options_.maxLogBytes = 100;
  containers_.emplace(options_);
  std::string victim = base_ + "/victim";
  ASSERT_TRUE(fs::writeFileAtomic(victim, "untouched\n", 0644));
  // After the first rotation the task swaps stdout for a symlink; the
  // supervisor must not write through it.
  auto l = imageLaunch("evil", "printf '%0100d' 1; sleep 0.2; rm -f stdout; ln -s " + victim +
                                   " stdout; printf '%0300d' 2");
  l.workingDir = "/mnt/mesos/sandbox";
  ASSERT_TRUE(launch(l));
  auto exit = waitExit("evil");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0);
  EXPECT_EQ(slurp(victim), "untouched\n");
}

TEST_F(ContainersTest, ROOT_DefaultCapsAndSeccompOrWhatLinuxInfoAsks) {
  auto helper = [&](const std::string& id) {
    auto l = imageLaunch(id, "");
    l.command.set_shell(false);
    l.command.set_value("/bin/nucleo-test-helper");
    for (const char* a : {"nucleo-test-helper", "--try-syscall", "keyctl"}) l.command.add_arguments(a);
    return l;
  };
  auto plain = helper("caps-default");
  auto custom = helper("caps-custom");
  auto* li = custom.container->mutable_linux_info();
  li->mutable_bounding_capabilities()->add_capabilities(mesos::v1::CapabilityInfo::NET_ADMIN);
  li->mutable_effective_capabilities()->add_capabilities(mesos::v1::CapabilityInfo::NET_ADMIN);
  li->mutable_seccomp()->set_unconfined(true);
  ASSERT_TRUE(launch(plain));
  ASSERT_TRUE(launch(custom));
  waitExit("caps-default");
  waitExit("caps-custom");
  std::string a = slurp(plain.sandbox + "/stdout"), b = slurp(custom.sandbox + "/stdout");
  EXPECT_NE(a.find("\"CapEff\":\"00000000a80425fb\""), std::string::npos) << "Docker's default set: " << a;
  EXPECT_NE(a.find("\"seccomp\":2"), std::string::npos) << a;
  EXPECT_NE(a.find("EPERM"), std::string::npos) << "keyctl is denied: " << a;
  EXPECT_NE(b.find("\"CapEff\":\"0000000000001000\""), std::string::npos) << "CAP_NET_ADMIN only: " << b;
  EXPECT_NE(b.find("\"CapBnd\":\"0000000000001000\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"seccomp\":0"), std::string::npos) << b;
}

TEST_F(ContainersTest, ROOT_HostFilesystemContainer) {
  ContainerLaunch l;
  l.containerId = "hostfs";
  l.sandbox = sandbox("hostfs");
  l.command.set_value(
      "test -x " NUCLEO_BIN " && echo host-fs; touch /etc/nucleo-must-fail 2>/dev/null || echo read-only; "
      "test -d " + base_ + " && echo tmp-shared; echo $MESOS_SANDBOX; pwd; echo written > $MESOS_SANDBOX/file");
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  auto exit = waitExit("hostfs");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0) << slurp(l.sandbox + "/stderr");
  EXPECT_EQ(slurp(l.sandbox + "/stdout"),
            "host-fs\nread-only\ntmp-shared\n" + l.sandbox + "\n" + l.sandbox + "\n");
  EXPECT_EQ(slurp(l.sandbox + "/file"), "written\n") << "the sandbox is writable";
  EXPECT_FALSE(fs::exists("/etc/nucleo-must-fail"));
}

TEST_F(ContainersTest, ROOT_HostFilesystemContainersDoNotCopyEachOthersMounts) {
  auto mounts = [] {
    auto text = fs::readFile("/proc/self/mountinfo");
    return text ? std::count(text->begin(), text->end(), '\n') : 0;
  };
  std::vector<long> growth;
  long before = mounts();
  for (int i = 0; i < 4; ++i) {
    ContainerLaunch l;
    l.containerId = "hostfs-" + std::to_string(i);
    l.sandbox = sandbox(l.containerId);
    l.command.set_value("sleep 1000");
    auto pid = launch(l);
    ASSERT_TRUE(pid) << pid.error().message;
    long now = mounts();
    growth.push_back(now - before);
    before = now;
  }
  // Each container adds the same few mounts to the agent's namespace; a copy
  // of the others' root filesystems would make each one add more.
  EXPECT_EQ(growth[3], growth[1]) << growth[0] << " " << growth[1] << " " << growth[2] << " " << growth[3];
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(containers_->destroy("hostfs-" + std::to_string(i)));
}

TEST_F(ContainersTest, ROOT_SupervisorIsSmallAndHoldsNoFdOfTheAgent) {
  // An fd without O_CLOEXEC, as a careless agent library might leave one.
  int leaked = ::open("/etc/hostname", O_RDONLY);
  ASSERT_GE(leaked, 0);
  auto l = imageLaunch("small", "ls /proc/self/fd; sleep 1000");
  auto pid = launch(l);
  ::close(leaked);
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(waitForContent(l.sandbox + "/stdout"));
  pid_t sup = supervisorPid("small");
  ASSERT_GT(sup, 0);
  std::string status = slurp("/proc/" + std::to_string(sup) + "/status");
  auto at = status.find("VmRSS:");
  ASSERT_NE(at, std::string::npos);
  long rssKb = std::strtol(status.c_str() + at + 6, nullptr, 10);
  std::printf("supervisor VmRSS: %ld kB\n", rssKb);
  EXPECT_LE(rssKb, 1024) << "at most 1 MiB per supervisor";
  std::string fds;
  FILE* p = ::popen(("ls -l /proc/" + std::to_string(sup) + "/fd | grep -c hostname").c_str(), "r");
  char buf[64] = {};
  if (p) fds = std::fgets(buf, sizeof buf, p) ? buf : "", ::pclose(p);
  EXPECT_EQ(fds, "0\n") << "the supervisor has no fd of ours";
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "0\n1\n2\n3\n") << "the container has stdio and ls's own directory fd";
  auto usage = containers_->usage("small");
  ASSERT_TRUE(usage) << usage.error().message;
  EXPECT_GE(usage->processes, 1u) << "sleep (busybox sh execs the last command)";
  EXPECT_GT(usage->memoryBytes, 0u);
  EXPECT_GE(usage->cpuSeconds, 0.0);
  ASSERT_TRUE(containers_->kill("small", 0ms));
  auto exit = waitExit("small");
  EXPECT_TRUE(exit.killedByRequest);
  ASSERT_TRUE(containers_->destroy("small"));
  EXPECT_FALSE(fs::exists(options_.workDir + "/containers/small"));
  EXPECT_TRUE(fs::exists(l.sandbox + "/stdout")) << "destroy keeps the sandbox";
  EXPECT_TRUE(containers_->destroy("small")) << "idempotent";
}

// A TCP server on the host (all addresses, an ephemeral port) that writes
// `reply` to its first client.
struct HostServer {
  int fd = -1;
  uint16_t port = 0;
  std::thread thread;
  explicit HostServer(std::string reply) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0) return;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread = std::thread([this, reply] {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20000) != 1) return;
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);
    });
  }
  ~HostServer() {
    if (thread.joinable()) thread.join();
    ::close(fd);
  }
};

// What a TCP connection to 127.0.0.1:port reads, retried while the server in
// the container is not listening yet.
std::string readFromLocalPort(uint16_t port, int timeoutMs = 10000) {
  for (int waited = 0; waited < timeoutMs; waited += 100) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      char buf[256];
      ssize_t n;
      while ((n = ::read(s, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    }
    ::close(s);
    if (!out.empty()) return out;
    std::this_thread::sleep_for(100ms);
  }
  return "";
}

TEST_F(ContainersTest, ROOT_BridgedContainerGetsAnAddressAndReachesTheHost) {
  if (!useTestBridge()) GTEST_SKIP() << "needs nft (nftables)";
  HostServer server("hello-from-host\n");
  ASSERT_NE(server.port, 0);
  auto l = bridgedLaunch("br-1", "ip -4 -o addr show eth0 | awk '{print $4}'; nc 10.233.0.1 " +
                                     std::to_string(server.port) + " </dev/null");
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  auto ips = containers_->ipAddresses("br-1");
  ASSERT_TRUE(ips) << ips.error().message;
  ASSERT_EQ(ips->size(), 1u);
  EXPECT_TRUE(ips->front().starts_with("10.233.0.")) << ips->front();
  auto exit = waitExit("br-1");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0) << slurp(l.sandbox + "/stderr");
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), ips->front() + "/24\nhello-from-host\n");
  EXPECT_TRUE(containers_->destroy("br-1"));
  expectNoNetworkLeft("br-1");
}

TEST_F(ContainersTest, ROOT_PublishedPortReachesTheContainerFromLoopback) {
  if (!useTestBridge()) GTEST_SKIP() << "needs nft (nftables)";
  auto l = bridgedLaunch("br-pub", "nc -l -p 80 -e echo reply-from-container", {{18093, 80}});
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_EQ(readFromLocalPort(18093), "reply-from-container\n");
  waitExit("br-pub");
  EXPECT_TRUE(containers_->destroy("br-pub"));
  expectNoNetworkLeft("br-pub");
  EXPECT_EQ(sh("ls " + options_.bridge.stateDir + "/ports 2>/dev/null"), "") << "port claim released";
}

TEST_F(ContainersTest, ROOT_FailedLaunchOnAPublishedPortLeavesNothing) {
  if (!useTestBridge()) GTEST_SKIP() << "needs nft (nftables)";
  auto a = bridgedLaunch("br-a", "sleep 30", {{18094, 80}});
  ASSERT_TRUE(launch(a));
  auto b = bridgedLaunch("br-b", "sleep 30", {{18094, 81}});
  auto failed = launch(b);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("18094"), std::string::npos) << failed.error().message;
  EXPECT_FALSE(fs::exists(containerFile("br-b", "")));
  expectNoNetworkLeft("br-b", 1);
  auto ips = containers_->ipAddresses("br-a");
  ASSERT_TRUE(ips && ips->size() == 1);
  std::string leases = sh("ls " + options_.bridge.stateDir + "/" + options_.bridge.name);
  EXPECT_EQ(leases, ips->front() + "\n") << "only br-a's lease";
}

TEST_F(ContainersTest, ROOT_BridgedContainerIsDetachedByADestroyAfterARestart) {
  if (!useTestBridge()) GTEST_SKIP() << "needs nft (nftables)";
  ASSERT_TRUE(launch(bridgedLaunch("br-restart", "sleep 30", {{18096, 80}})));
  EXPECT_NE(sh("nft list table inet agtest").find("\"c:br-restart\""), std::string::npos);
  containers_.emplace(options_);  // as a restarted agent: nothing in memory
  auto found = containers_->recover();
  ASSERT_TRUE(found && found->size() == 1);
  EXPECT_EQ(containers_->ipAddresses("br-restart").value().size(), 1u);
  ASSERT_TRUE(containers_->destroy("br-restart"));
  expectNoNetworkLeft("br-restart");
  EXPECT_EQ(sh("ls " + options_.bridge.stateDir + "/ports"), "");
}

TEST_F(ContainersTest, ROOT_OtherNetworkNameIsACniList) {
  if (!fs::exists("/usr/lib/cni/bridge") || !fs::exists("/usr/lib/cni/host-local"))
    GTEST_SKIP() << "needs containernetworking-plugins in /usr/lib/cni";
  // Our own CNI bridge and subnet; no ipMasq or portmap, so no iptables rules.
  options_.cni.configDir = base_ + "/cni";
  options_.cni.pluginDirs = {"/usr/lib/cni"};
  ASSERT_TRUE(fs::makeDirs(options_.cni.configDir));
  std::string list = R"({"cniVersion":"1.0.0","name":"agcni","plugins":[{"type":"bridge","bridge":"agcni0",)"
                     R"("isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","ranges":[[{"subnet":)"
                     R"("10.235.0.0/24"}]],"dataDir":")" + base_ + R"(/cni-ipam"}},{"type":"loopback"}]})";
  ASSERT_TRUE(fs::writeFileAtomic(options_.cni.configDir + "/10-agcni.conflist", list));
  containers_.emplace(options_);
  auto l = imageLaunch("cni-1", "sleep 30");
  l.container->add_network_infos()->set_name("agcni");
  auto pid = launch(l);
  if (!pid) (void)std::system("ip link del agcni0 2>/dev/null");
  ASSERT_TRUE(pid) << pid.error().message;
  auto ips = containers_->ipAddresses("cni-1");
  ASSERT_TRUE(ips && ips->size() == 1);
  EXPECT_TRUE(ips->front().starts_with("10.235.0.")) << ips->front();
  EXPECT_TRUE(containers_->destroy("cni-1"));
  // The kernel removes the host end of a veth whose namespace died in its
  // namespace clean-up work, a moment after the DEL.
  std::string attached;
  for (int i = 0; i < 40; ++i) {
    attached = sh("ip -o link show master agcni0 2>/dev/null | wc -l");
    if (attached == "0\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(attached, "0\n") << "veth removed by DEL";
  (void)std::system("ip link del agcni0 2>/dev/null");
  auto unknown = imageLaunch("cni-2", "true");
  unknown.container->add_network_infos()->set_name("nosuchnet");
  auto failed = launch(unknown);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("nosuchnet"), std::string::npos) << failed.error().message;
}

TEST_F(ContainersTest, ROOT_NoneNetworkHasOnlyLoopback) {
  auto l = imageLaunch("net-none", "ls /sys/class/net");
  l.container->add_network_infos()->set_name("none");
  ASSERT_TRUE(launch(l));
  waitExit("net-none");
  EXPECT_EQ(slurp(l.sandbox + "/stdout"), "lo\n");
  auto ips = containers_->ipAddresses("net-none");
  ASSERT_TRUE(ips) << ips.error().message;
  EXPECT_TRUE(ips->empty());
}

TEST_F(ContainersTest, ROOT_PodOnTheBridgeSharesOneAddressAndIsDetachedOnDestroy) {
  if (!useTestBridge()) GTEST_SKIP() << "needs nft (nftables)";
  mesos::v1::ContainerInfo net;
  net.set_type(mesos::v1::ContainerInfo::MESOS);
  auto* info = net.add_network_infos();
  info->set_name("agbr0");  // the bridge's own name
  info->add_port_mappings()->set_host_port(18095);
  info->mutable_port_mappings(0)->set_container_port(80);
  ASSERT_TRUE(containers_->createPod("pod-br", net));
  pods_.push_back("pod-br");
  auto server = imageLaunch("pod-br.a", "nc -l -p 80 -e echo reply-from-pod");
  server.podId = "pod-br";
  ASSERT_TRUE(launch(server));
  auto other = imageLaunch("pod-br.b", "ip -4 -o addr show eth0 | awk '{print $4}'");
  other.podId = "pod-br";
  ASSERT_TRUE(launch(other));
  waitExit("pod-br.b");
  auto ips = containers_->ipAddresses("pod-br.a");
  ASSERT_TRUE(ips && ips->size() == 1);
  EXPECT_TRUE(ips->front().starts_with("10.233.0.")) << ips->front();
  EXPECT_EQ(slurp(other.sandbox + "/stdout"), ips->front() + "/24\n") << "one network for the pod";
  EXPECT_EQ(readFromLocalPort(18095), "reply-from-pod\n");
  waitExit("pod-br.a");
  ASSERT_TRUE(containers_->destroy("pod-br.a"));
  ASSERT_TRUE(containers_->destroy("pod-br.b"));
  ASSERT_TRUE(containers_->destroyPod("pod-br"));
  expectNoNetworkLeft("pod-br");
  EXPECT_EQ(sh("ls " + options_.bridge.stateDir + "/" + options_.bridge.name), "") << "lease released";
}

}  // namespace
}  // namespace nucleo::agent
