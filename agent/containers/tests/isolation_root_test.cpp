// --isolation for real: a container of an agent without cgroups/mem,
// namespaces/pid and filesystem/linux. Root only.
#include "agent/containers/tests/containers_fixture.hpp"

namespace nucleo::agent {
namespace {

// --isolation posix/cpu,posix/mem: no memory limit, the host's pid
// namespace, and images refused (filesystem/posix), as Mesos's POSIX agent.
TEST_F(ContainersTest, ROOT_PosixIsolationHasNoLimitNoPidNamespaceAndRefusesImages) {
  auto posix = Isolation::parse("posix/cpu,posix/mem");
  ASSERT_TRUE(posix);
  options_.isolation = *posix;
  containers_.emplace(options_);
  ContainerLaunch l;
  l.containerId = "posix";
  l.sandbox = sandbox("posix");
  l.command.set_value("cat /sys/fs/cgroup/memory/memory.limit_in_bytes; readlink /proc/self/ns/pid");
  l.resources = {test_support::scalar("mem", 64)};
  auto pid = launch(l);
  ASSERT_TRUE(pid) << pid.error().message;
  auto exit = waitExit("posix");
  EXPECT_EQ(WEXITSTATUS(exit.waitStatus), 0) << slurp(l.sandbox + "/stderr");
  auto lines = strings::split(slurp(l.sandbox + "/stdout"), '\n', true);
  ASSERT_EQ(lines.size(), 2u) << slurp(l.sandbox + "/stdout") << slurp(l.sandbox + "/stderr");
  auto limit = strings::toUint(lines[0]);
  ASSERT_TRUE(limit) << lines[0];
  EXPECT_GT(*limit, uint64_t{1} << 40) << "no memory limit without cgroups/mem";
  char self[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/pid", self, sizeof(self) - 1), 0);
  EXPECT_EQ(lines[1], self) << "the host's pid namespace without namespaces/pid";
  auto image = launch(imageLaunch("posix-image", "true"));
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().message.find("filesystem/linux"), std::string::npos) << image.error().message;
  launched_.pop_back();  // nothing was created
}

}  // namespace
}  // namespace nucleo::agent
