#include "linux/capabilities.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <functional>
#include <map>
#include <string>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::os {
namespace {

TEST(Capabilities, NamesRoundTripAndMatchLibcap) {
  EXPECT_EQ(capabilityName(21), "CAP_SYS_ADMIN");
  auto bind = capabilityFromName("CAP_NET_BIND_SERVICE");
  ASSERT_TRUE(bind);
  EXPECT_EQ(*bind, CAP_NET_BIND_SERVICE);
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    auto back = capabilityFromName(capabilityName(cap));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, cap);
    char* libcapName = ::cap_to_name(static_cast<cap_value_t>(cap));
    ASSERT_NE(libcapName, nullptr);
    std::string upper(libcapName);
    ::cap_free(libcapName);
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    EXPECT_EQ(capabilityName(cap), upper);
  }
}

TEST(Capabilities, UnknownNamesAreErrors) {
  for (const char* name : {"CAP_FOO", "SYS_ADMIN", "cap_sys_admin", "", "21"}) {
    auto cap = capabilityFromName(name);
    ASSERT_FALSE(cap) << name;
    EXPECT_EQ(cap.error().message,
              std::string("unknown capability \"") + name + "\"");
  }
  EXPECT_EQ(capabilityName(99), "CAP_99");
}

TEST(Capabilities, LastCapabilityMatchesKernel) {
  auto text = fs::readFile("/proc/sys/kernel/cap_last_cap");
  ASSERT_TRUE(text);
  EXPECT_EQ(lastCapability(), *strings::toInt(strings::trim(*text)));
  EXPECT_GE(lastCapability(), CAP_AUDIT_READ);
}

std::string validationError(const CapabilitySets& caps) {
  Status s = validateCapabilitySets(caps);
  return s ? "" : s.error().message;
}

TEST(Capabilities, ValidationNamesSetAndCapability) {
  CapabilitySets caps;
  caps.bounding = {CAP_KILL, lastCapability() + 1};
  EXPECT_EQ(validationError(caps),
            "bounding: " + capabilityName(lastCapability() + 1) +
                " is not supported by this kernel (cap_last_cap " +
                std::to_string(lastCapability()) + ")");
  caps = {};
  caps.effective = {CAP_KILL};
  EXPECT_EQ(validationError(caps), "effective: CAP_KILL is not in the permitted set");
  caps = {{CAP_KILL}, {}, {CAP_NET_ADMIN}, {}, {}};
  EXPECT_EQ(validationError(caps),
            "inheritable: CAP_NET_ADMIN is not in the bounding set");
  caps = {{CAP_KILL}, {}, {}, {CAP_KILL}, {CAP_KILL}};
  EXPECT_EQ(validationError(caps), "ambient: CAP_KILL is not in the inheritable set");
  caps = {{CAP_KILL}, {CAP_KILL}, {CAP_KILL}, {CAP_KILL}, {CAP_KILL}};
  EXPECT_EQ(validationError(caps), "");
}

// Runs `body` in a forked child and returns what it wrote to the fd it gets.
std::string runChild(const std::function<void(int fd)>& body) {
  auto pipe = makePipe();
  if (!pipe) return "pipe failed";
  auto& [readEnd, writeEnd] = *pipe;
  pid_t pid = ::fork();
  if (pid == 0) {
    readEnd.reset();
    body(writeEnd.get());
    ::_exit(0);
  }
  writeEnd.reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(readEnd.get(), buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

void writeString(int fd, const std::string& s) {
  ssize_t n = ::write(fd, s.data(), s.size());
  (void)n;
}

// "Key:\tvalue" lines of /proc/<pid>/status; "error" holds a child failure.
std::map<std::string, std::string> parseStatus(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const std::string& line : strings::split(text, '\n', true)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = std::string(strings::trim(line.substr(colon + 1)));
  }
  return out;
}

// Applies the identity in a child, then reports /proc/self/status either as
// read by the child itself or by an exec'd cat (what a container would see).
std::map<std::string, std::string> statusAfter(const Identity& id,
                                               const CapabilitySets& caps,
                                               bool execCat) {
  return parseStatus(runChild([&](int fd) {
    Status applied = applyIdentity(id, caps);
    if (!applied) {
      writeString(fd, "error: " + applied.error().message + "\n");
      return;
    }
    if (execCat) {
      ::dup2(fd, STDOUT_FILENO);
      ::execl("/bin/cat", "cat", "/proc/self/status", nullptr);
      writeString(fd, "error: exec /bin/cat failed\n");
      return;
    }
    auto status = fs::readFile("/proc/self/status");
    writeString(fd, status ? *status : "error: " + status.error().message + "\n");
    // A user would notice: without CAP_SETUID there is no other uid to take.
    uid_t other = id.uid == 0 ? 1000 : 0;
    writeString(fd, ::setresuid(other, other, other) == 0 ? "SetUid:\tok\n"
                                                           : "SetUid:\tEPERM\n");
  }));
}

bool haveCap(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) < 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

bool canSwitchIdentity() {
  return ::geteuid() == 0 && haveCap(CAP_SETUID) && haveCap(CAP_SETGID) &&
         haveCap(CAP_SETPCAP);
}

TEST(Capabilities, ROOT_ApplyIdentityNonRootWithAmbient) {
  if (!canSwitchIdentity())
    GTEST_SKIP() << "needs root with CAP_SETUID, CAP_SETGID and CAP_SETPCAP";
  Identity id{1000, 1000, {2000}, 027};
  CapabilitySets caps{{CAP_NET_BIND_SERVICE, CAP_KILL},
                      {CAP_NET_BIND_SERVICE},
                      {CAP_NET_BIND_SERVICE},
                      {CAP_NET_BIND_SERVICE},
                      {CAP_NET_BIND_SERVICE}};
  for (bool execCat : {false, true}) {
    SCOPED_TRACE(execCat ? "after execve of cat" : "in the child");
    auto status = statusAfter(id, caps, execCat);
    ASSERT_EQ(status.count("error"), 0u) << status["error"];
    EXPECT_EQ(status["Uid"], "1000\t1000\t1000\t1000");
    EXPECT_EQ(status["Gid"], "1000\t1000\t1000\t1000");
    EXPECT_EQ(status["Groups"], "2000");
    EXPECT_EQ(status["Umask"], "0027");
    EXPECT_EQ(status["CapInh"], "0000000000000400");
    EXPECT_EQ(status["CapPrm"], "0000000000000400");
    EXPECT_EQ(status["CapEff"], "0000000000000400");
    EXPECT_EQ(status["CapBnd"], "0000000000000420");
    EXPECT_EQ(status["CapAmb"], "0000000000000400");
    if (!execCat) {
      EXPECT_EQ(status["SetUid"], "EPERM");
    }
  }
}

TEST(Capabilities, ROOT_ApplyIdentityRootWithReducedSet) {
  if (!canSwitchIdentity())
    GTEST_SKIP() << "needs root with CAP_SETUID, CAP_SETGID and CAP_SETPCAP";
  Identity id{0, 0, {}, {}};
  CapabilitySets caps{{CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE},
                      {CAP_CHOWN, CAP_KILL},
                      {},
                      {CAP_CHOWN, CAP_KILL},
                      {}};
  auto status = statusAfter(id, caps, false);
  ASSERT_EQ(status.count("error"), 0u) << status["error"];
  EXPECT_EQ(status["Uid"], "0\t0\t0\t0");
  EXPECT_EQ(status["Groups"], "");
  EXPECT_EQ(status["CapInh"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000021");
  EXPECT_EQ(status["CapEff"], "0000000000000021");
  EXPECT_EQ(status["CapBnd"], "0000000000000421");
  EXPECT_EQ(status["CapAmb"], "0000000000000000");
  EXPECT_EQ(status["SetUid"], "EPERM");
}

TEST(Capabilities, ApplyIdentityWithoutPrivilegeNamesTheStep) {
  // Runs for anyone: the child first empties its own effective set.
  std::string out = runChild([](int fd) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    ::syscall(SYS_capget, &header, data);
    for (auto& d : data) d.effective = 0;
    if (::syscall(SYS_capset, &header, data) < 0) {
      writeString(fd, "capset failed");
      return;
    }
    Status s = applyIdentity(Identity{1000, 1000, {}, {}}, CapabilitySets{});
    writeString(fd, s ? "applied" : s.error().message);
  });
  EXPECT_EQ(out, "drop CAP_CHOWN from the bounding set: " + std::string(strerror(EPERM)));
}

}  // namespace
}  // namespace nucleo::os
