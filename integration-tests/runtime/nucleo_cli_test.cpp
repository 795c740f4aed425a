// nucleo-specific behaviour beyond what the differential tests compare: exec
// into a running container, pause/resume, ps, hooks with the state JSON on
// stdin, and bad input that must fail with a one-line error and leave nothing.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "integration-tests/runtime/fixture.hpp"

namespace nucleo::itest {
namespace {

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

class NucleoCli : public RuntimeFixture {
 protected:
  const Runtime* nucleo() {
    std::string why;
    return runtime("nucleo", &why);
  }
  std::string stateField(const Runtime& rt, const std::string& id, const char* key) {
    RunResult r = rt.run({"state", id}, 10s);
    auto v = parseJson(r.out, "state");
    if (r.exitCode != 0 || !v || !v->is_object() || !v->as_object().contains(key)) return "";
    return boost::json::serialize(v->as_object().at(key));
  }
  // A detached container sleeping, with a seccomp rule and hooks.
  std::string startSleeper(const Runtime& rt, const std::string& hookDir) {
    auto b = bundle();
    if (!b) return "";
    b->setArgs({"sleep", "30"});
    auto& linux = b->config()["linux"].as_object();
    linux["seccomp"] = boost::json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW",
        "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]})");
    b->config()["hooks"] = boost::json::object{
        {"createRuntime", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + hookDir + "/createRuntime"}}}}},
        {"poststop", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + hookDir + "/poststop"}}}}}};
    EXPECT_TRUE(b->save());
    std::string id = newId(rt, "sleeper");
    RunResult r = rt.run({"run", "--detach", "--bundle", b->dir().string(), id});
    EXPECT_EQ(r.exitCode, 0) << r.describe();
    return id;
  }
};

TEST_F(NucleoCli, ROOT_ExecJoinsTheContainerWithItsSeccompProfile) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  std::string hooks = tmpPath().string();
  std::string id = startSleeper(*rt, hooks);
  // "-c" after the id belongs to the command, not to --cap.
  RunResult r = rt->run({"exec", id, "sh", "-c", "mkdir /tmp/x; echo rc=$?; hostname; echo $$"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("Function not implemented"));  // errnoRet 38 = ENOSYS
  EXPECT_THAT(r.out, HasSubstr("rc=1"));
  r = rt->run({"exec", "--user", "1000:100", "-e", "A=1", "-e", "B=2", id, "sh", "-c",
               "echo $(id -u):$(id -g) $A$B; exit 5"});
  EXPECT_EQ(r.exitCode, 5) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("1000:100 12"));
  r = rt->run({"exec", id, "no-such-program"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.err, HasSubstr("\"no-such-program\": executable file not found"));

  // The createRuntime hook saw the state JSON with the id and the init pid.
  auto created = fs::readFile(hooks + "/createRuntime");
  ASSERT_TRUE(created);
  EXPECT_THAT(*created, HasSubstr("\"id\":\"" + id + "\""));
  EXPECT_THAT(*created, HasSubstr("\"status\":\"creating\""));
  EXPECT_THAT(*created, HasSubstr("\"pid\":" + stateField(*rt, id, "pid")));

  r = rt->run({"delete", "--force", id});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  auto stopped = fs::readFile(hooks + "/poststop");
  ASSERT_TRUE(stopped);
  EXPECT_THAT(*stopped, HasSubstr("\"status\":\"stopped\""));
}

TEST_F(NucleoCli, ROOT_PauseResumePsAndKill) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  std::string id = startSleeper(*rt, tmpPath().string());
  std::string pid = stateField(*rt, id, "pid");
  RunResult r = rt->run({"ps", "--format", "json", id});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(r.out, "[" + pid + "]\n");
  r = rt->run({"ps", id});
  EXPECT_THAT(r.out, HasSubstr("sleep 30"));
  EXPECT_EQ(rt->run({"pause", id}).exitCode, 0);
  EXPECT_EQ(stateField(*rt, id, "status"), "\"paused\"");
  r = rt->run({"pause", id});
  EXPECT_THAT(r.err, HasSubstr("it is paused"));
  EXPECT_EQ(rt->run({"resume", id}).exitCode, 0);
  EXPECT_EQ(stateField(*rt, id, "status"), "\"running\"");
  r = rt->run({"kill", id, "SIGNOPE"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_EQ(r.err, "nucleo: unknown signal \"SIGNOPE\"\n");
  EXPECT_EQ(rt->run({"kill", "--all", id, "KILL"}).exitCode, 0);
  for (int i = 0; i < 100 && stateField(*rt, id, "status") != "\"stopped\""; ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(stateField(*rt, id, "status"), "\"stopped\"");
  EXPECT_EQ(rt->run({"delete", id}).exitCode, 0);
}

// CVE-2019-5736: the container's init runs the runtime from a copy that no
// one can write, so /proc/<init>/exe cannot be used to overwrite bin/nucleo.
TEST_F(NucleoCli, ROOT_RuntimeBinaryCannotBeWrittenThroughProcExe) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"true"});
  ASSERT_TRUE(b->save());
  std::string id = newId(*rt, "exe");
  RunResult r = rt->run({"create", "--bundle", b->dir().string(), id});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  std::string pid = stateField(*rt, id, "pid");
  ASSERT_FALSE(pid.empty());
  auto before = fs::readFile(rt->binary().string());
  int fd = ::open(("/proc/" + pid + "/exe").c_str(), O_WRONLY);
  int err = errno;
  if (fd >= 0) ::close(fd);
  EXPECT_LT(fd, 0) << "the init's executable is writable";
  EXPECT_TRUE(err == EROFS || err == EPERM || err == ETXTBSY) << std::strerror(err);
  EXPECT_EQ(*fs::readFile(rt->binary().string()), *before);
  EXPECT_EQ(rt->run({"delete", "--force", id}).exitCode, 0);
}

// Without a cgroup namespace the container still sees its own cgroup, not
// the host's hierarchy roots (as runc binds it), so its limits read back.
TEST_F(NucleoCli, ROOT_ContainerSeesItsOwnCgroupLimits) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max "
                          "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true"});
  auto& resources = b->config()["linux"].as_object()["resources"].as_object();
  resources["memory"] = {{"limit", 50331648}};
  resources["pids"] = {{"limit", 42}};
  ASSERT_TRUE(b->save());
  RunResult r = rt->run({"run", "--bundle", b->dir().string(), newId(*rt, "owncg")});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr("50331648"));
  EXPECT_THAT(r.out, HasSubstr("42"));
}

// A user namespace: root inside is an unprivileged uid on the host.
TEST_F(NucleoCli, ROOT_UserNamespaceMapsRootToAnUnprivilegedHostUid) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"sh", "-c", "cat /proc/self/uid_map; id -u; sleep 30"});
  auto& linux = b->config()["linux"].as_object();
  linux["namespaces"].as_array().push_back(boost::json::object{{"type", "user"}});
  linux["uidMappings"] = boost::json::parse(R"([{"containerID":0,"hostID":200000,"size":65536}])");
  linux["gidMappings"] = boost::json::parse(R"([{"containerID":0,"hostID":200000,"size":65536}])");
  ASSERT_TRUE(b->save());
  // The mapped root (host uid 200000) must be able to reach the rootfs, as
  // with runc: the test's private tmpdir is 0700.
  for (auto p = b->dir(); p != tmpPath().parent_path(); p = p.parent_path())
    stdfs::permissions(p, stdfs::perms::others_exec | stdfs::perms::others_read,
                       stdfs::perm_options::add);
  std::string id = newId(*rt, "userns");
  RunResult r = rt->run({"run", "--detach", "--bundle", b->dir().string(), id});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  std::string pid = stateField(*rt, id, "pid");
  auto status = fs::readFile("/proc/" + pid + "/status");
  ASSERT_TRUE(status);
  EXPECT_THAT(*status, HasSubstr("Uid:\t200000\t200000\t200000\t200000"));
  r = rt->run({"exec", id, "sh", "-c", "cat /proc/self/uid_map; id -u"});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, ::testing::MatchesRegex("\\s*0\\s+200000\\s+65536\n0\n"));

  // A second container joins that user namespace by path and gets its own
  // pid namespace (the init is forked once more inside it).
  auto joiner = bundle();
  ASSERT_TRUE(joiner);
  joiner->setArgs({"sh", "-c", "echo pid=$$; cat /proc/self/uid_map"});
  auto& jlinux = joiner->config()["linux"].as_object();
  jlinux["namespaces"].as_array().push_back(
      boost::json::object{{"type", "user"}, {"path", "/proc/" + pid + "/ns/user"}});
  ASSERT_TRUE(joiner->save());
  for (auto p = joiner->dir(); p != tmpPath().parent_path(); p = p.parent_path())
    stdfs::permissions(p, stdfs::perms::others_exec | stdfs::perms::others_read,
                       stdfs::perm_options::add);
  r = rt->run({"run", "--bundle", joiner->dir().string(), newId(*rt, "joiner")});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, ::testing::MatchesRegex("pid=1\n\\s*0\\s+200000\\s+65536\n"));
  EXPECT_EQ(rt->run({"delete", "--force", id}).exitCode, 0);
}

// runc's console socket protocol: the pty master arrives over the socket
// (SCM_RIGHTS) and the container's process has the slave as its terminal.
TEST_F(NucleoCli, ROOT_ConsoleSocketReceivesThePtyMaster) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"});
  b->process()["terminal"] = true;
  ASSERT_TRUE(b->save());
  std::string socketPath = (tmpPath() / "console.sock").string();
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::string id = newId(*rt, "console");
  RunResult r = rt->run({"create", "--console-socket", socketPath, "--bundle", b->dir().string(), id});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  char data[64];
  struct iovec iov = {data, sizeof data};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ASSERT_GT(::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC), 0);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  ASSERT_TRUE(cmsg && cmsg->cmsg_type == SCM_RIGHTS);
  int master;
  std::memcpy(&master, CMSG_DATA(cmsg), sizeof master);
  ASSERT_EQ(rt->run({"start", id}).exitCode, 0);
  std::string out;
  char buf[256];
  for (;;) {  // read until the slave side closes (EIO)
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  EXPECT_THAT(out, HasSubstr("/dev/pts/0"));
  EXPECT_THAT(out, HasSubstr("stdin-is-a-tty"));
  ::close(master);
  ::close(conn);
  ::close(listener);
  EXPECT_EQ(rt->run({"delete", "--force", id}).exitCode, 0);
}

// --preserve-fds passes fds 3.. to the process; --no-pivot uses chroot.
TEST_F(NucleoCli, ROOT_PreserveFdsAndNoPivot) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"sh", "-c", "echo through-fd-3 >&3; ls /proc/self/fd"});
  ASSERT_TRUE(b->save());
  std::string out = (tmpPath() / "fd3.txt").string();
  std::string listing = (tmpPath() / "fds.txt").string();
  std::string command = fmt::format("{} --root {} run --preserve-fds 1 --no-pivot --bundle {} {} 3>{} >{}",
                                    rt->binary().string(), rt->root().string(), b->dir().string(),
                                    newId(*rt, "fds"), out, listing);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_EQ(*fs::readFile(out), "through-fd-3\n");
  // Only stdio, the preserved fd and ls's own directory fd: nothing leaked.
  auto fds = strings::split(strings::trim(*fs::readFile(listing)), '\n', true);
  EXPECT_LE(fds.size(), 5u) << *fs::readFile(listing);
}

// Each bad config fails create with one line naming the field and leaves no
// state directory, no cgroup and no process.
TEST_F(NucleoCli, ROOT_BadConfigIsRefusedAndLeavesNothing) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  struct Case {
    const char* what;
    std::function<void(boost::json::object&)> edit;
    const char* message;
  };
  std::vector<Case> cases = {
      {"unknown capability",
       [](auto& c) { c["process"].as_object()["capabilities"].as_object()["bounding"].as_array().push_back("CAP_NOPE"); },
       "process.capabilities.bounding: unknown capability \"CAP_NOPE\""},
      {"bad mount option",
       [](auto& c) { c["mounts"].as_array().push_back(boost::json::parse(R"({"destination":"/x","type":"tmpfs","source":"tmpfs","options":["tmpcopyup"]})")); },
       "tmpcopyup"},
      {"wrong type", [](auto& c) { c["process"].as_object()["args"] = 5; }, "process.args: expected an array"},
      {"unknown namespace",
       [](auto& c) { c["linux"].as_object()["namespaces"].as_array().push_back(boost::json::parse(R"({"type":"bogus"})")); },
       "unknown namespace type \"bogus\""},
      {"seccomp notify",
       [](auto& c) { c["linux"].as_object()["seccomp"] = boost::json::parse(R"({"defaultAction":"SCMP_ACT_NOTIFY"})"); },
       "SCMP_ACT_NOTIFY"},
      {"failing hook",
       [](auto& c) { c["hooks"] = boost::json::parse(R"({"createRuntime":[{"path":"/bin/false"}]})"); },
       "createRuntime hook /bin/false: exited with status 1"},
  };
  for (const auto& c : cases) {
    auto b = bundle();
    ASSERT_TRUE(b);
    c.edit(b->config());
    ASSERT_TRUE(b->save());
    std::string id = newId(*rt, "bad");
    RunResult r = rt->run({"create", "--bundle", b->dir().string(), id});
    EXPECT_NE(r.exitCode, 0) << c.what;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.what;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.what << ": " << r.err;
    EXPECT_FALSE(stdfs::exists(rt->root() / id)) << c.what;
    for (const char* h : {"memory", "pids", "cpu"})
      EXPECT_FALSE(stdfs::exists(stdfs::path("/sys/fs/cgroup") / h / "nucleo" / id)) << c.what;
  }
}

}  // namespace
}  // namespace nucleo::itest
