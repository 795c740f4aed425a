// --isolation on the command line: the agent refuses an unknown isolator
// before it starts, and GET_FLAGS reports the active ones.
#include <gtest/gtest.h>

#include "agent/containers/isolation.hpp"
#include "agent/flags.hpp"

namespace nucleo::agent {
namespace {

Result<AgentOptions> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "nucleo-agent");
  return parseFlags(static_cast<int>(args.size()), args.data());
}

TEST(IsolationFlags, DefaultIsEveryIsolator) {
  auto o = parse({"--master", "m:1"});
  ASSERT_TRUE(o) << o.error().message;
  auto i = Isolation::parse(o->isolation);
  ASSERT_TRUE(i) << i.error().message;
  EXPECT_EQ(i->active(), Isolation::all().active());
  EXPECT_TRUE(i->cgroupsMem && i->cgroupsCpu && i->namespacesPid && i->filesystemLinux && i->networkCni);
}

TEST(IsolationFlags, MesosSpellingsAccepted) {
  auto o = parse({"--master", "m:1", "--isolation", "posix/cpu,posix/mem,filesystem/posix,docker/runtime"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->isolation, "posix/cpu,posix/mem,filesystem/posix,docker/runtime");
  auto all = parse({"--master", "m:1", "--isolation=cgroups/all,namespaces/pid,namespaces/ipc"});
  ASSERT_TRUE(all) << all.error().message;
}

TEST(IsolationFlags, UnknownIsolatorRefusedNamingTheEntry) {
  auto o = parse({"--master", "m:1", "--isolation", "cgroups/cpu,network/port_mapping"});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message, "--isolation: unknown isolator 'network/port_mapping'");
}

}  // namespace
}  // namespace nucleo::agent
