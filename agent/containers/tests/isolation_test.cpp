// --isolation: parsing, what is reported, and what the container spec asks
// for when an isolator is left out.
#include "agent/containers/isolation.hpp"

#include <gtest/gtest.h>

#include "agent/containers/spec_builder.hpp"
#include "agent/containers/task_network.hpp"
#include "agent/containers/tests/launch_helpers.hpp"
#include "oci/spec.hpp"

namespace nucleo::agent {
namespace {

using Strings = std::vector<std::string>;

Isolation parsed(const std::string& flag) {
  auto i = Isolation::parse(flag);
  EXPECT_TRUE(i) << i.error().message;
  return i ? *i : Isolation{};
}

TEST(Isolation, ParsesMesosNamesAndExpandsCgroupsAll) {
  auto i = parsed("cgroups/all, namespaces/pid,filesystem/linux,,docker/runtime");
  EXPECT_TRUE(i.cgroupsCpu && i.cgroupsMem && i.cgroupsPids && i.cgroupsDevices);
  EXPECT_TRUE(i.namespacesPid);
  EXPECT_FALSE(i.namespacesIpc);
  EXPECT_TRUE(i.filesystemLinux);
  EXPECT_FALSE(i.networkCni);
  EXPECT_EQ(i.active(), (Strings{"cgroups/cpu", "cgroups/mem", "cgroups/pids", "cgroups/devices",
                                 "namespaces/pid", "filesystem/linux"}))
      << "docker/runtime is accepted and not reported";
  EXPECT_EQ(i.isolatedResources(), (Strings{"cpus", "mem"}));
}

TEST(Isolation, PosixOnlyIsolatesNothingAndUsesTheHostFilesystem) {
  auto i = parsed("posix/cpu,posix/mem");
  EXPECT_EQ(i.active(), (Strings{"posix/cpu", "posix/mem", "filesystem/posix"}));
  EXPECT_TRUE(i.isolatedResources().empty());
  EXPECT_EQ(parsed("").active(), Strings{"filesystem/posix"});
}

TEST(Isolation, UnknownEntryIsNamed) {
  auto i = Isolation::parse("cgroups/cpu,gpu/nvidia");
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().message, "--isolation: unknown isolator 'gpu/nvidia'");
  EXPECT_FALSE(Isolation::parse("cgroups/memory"));
}

TEST(Isolation, ReportedAtRegistration) {
  nucleo::agent::Call::Register reg;
  reportIsolation("cgroups/mem,namespaces/ipc", &reg);
  ASSERT_EQ(reg.isolators_size(), 3);
  EXPECT_EQ(reg.isolators(0), "cgroups/mem");
  EXPECT_EQ(reg.isolators(1), "namespaces/ipc");
  EXPECT_EQ(reg.isolators(2), "filesystem/posix");
  ASSERT_EQ(reg.isolated_resources_size(), 1);
  EXPECT_EQ(reg.isolated_resources(0), "mem");
}

ContainerLaunch launchWithLimits() {
  ContainerLaunch l = test_support::echoLaunch();
  l.resources = {test_support::scalar("cpus", 0.5), test_support::scalar("mem", 64)};
  return l;
}

SpecContext hostContext(const Isolation& isolation) {
  SpecContext ctx;
  ctx.rootfs = "/work/containers/task-1/bundle/rootfs";
  ctx.cgroupsPath = "/nucleo-agent/task-1";
  ctx.isolation = isolation;
  return ctx;
}

oci::Spec build(const ContainerLaunch& l, const SpecContext& ctx) {
  auto json = buildConfigJson(l, ctx);
  EXPECT_TRUE(json) << json.error().message;
  auto spec = oci::parseSpec(json ? *json : "{}");
  EXPECT_TRUE(spec) << spec.error().message;
  return spec ? *spec : oci::Spec{};
}

TEST(IsolationSpec, WithoutCgroupsMemNoMemoryLimit) {
  oci::Spec spec = build(launchWithLimits(), hostContext(parsed("cgroups/cpu")));
  ASSERT_TRUE(spec.linux.resources);
  EXPECT_FALSE(spec.linux.resources->memoryLimit);
  EXPECT_EQ(spec.linux.resources->cpuShares, 512u);
  EXPECT_EQ(spec.linux.resources->cpuQuota, 50000);
}

TEST(IsolationSpec, WithoutCgroupsCpuNoSharesOrQuota) {
  oci::Spec spec = build(launchWithLimits(), hostContext(parsed("cgroups/mem")));
  ASSERT_TRUE(spec.linux.resources);
  EXPECT_FALSE(spec.linux.resources->cpuShares);
  EXPECT_FALSE(spec.linux.resources->cpuQuota);
  EXPECT_EQ(spec.linux.resources->memoryLimit, 64LL << 20);
}

TEST(IsolationSpec, PosixOnlyNoLimitsNoPidOrIpcNamespaceNoDeviceRules) {
  oci::Spec spec = build(launchWithLimits(), hostContext(parsed("posix/cpu,posix/mem")));
  if (spec.linux.resources) {
    EXPECT_FALSE(spec.linux.resources->memoryLimit);
    EXPECT_FALSE(spec.linux.resources->cpuShares);
    EXPECT_TRUE(spec.linux.resources->devices.empty()) << "no cgroups/devices: the device cgroup is left alone";
  }
  EXPECT_FALSE(spec.linux.hasNamespace("pid"));
  EXPECT_FALSE(spec.linux.hasNamespace("ipc"));
  EXPECT_TRUE(spec.linux.hasNamespace("mount"));
  EXPECT_EQ(spec.linux.cgroupsPath, "/nucleo-agent/task-1") << "still tracked by a cgroup, for kill and usage";
}

TEST(IsolationSpec, EverythingByDefault) {
  oci::Spec spec = build(launchWithLimits(), hostContext(Isolation::all()));
  ASSERT_TRUE(spec.linux.resources);
  EXPECT_EQ(spec.linux.resources->memoryLimit, 64LL << 20);
  EXPECT_EQ(spec.linux.resources->cpuShares, 512u);
  EXPECT_FALSE(spec.linux.resources->devices.empty());
  EXPECT_TRUE(spec.linux.hasNamespace("pid"));
  EXPECT_TRUE(spec.linux.hasNamespace("ipc"));
}

TEST(IsolationSpec, ImageWithoutFilesystemLinuxIsRefusedNamingTheFlag) {
  images::ImageConfig image;
  image.cmd = Strings{"/bin/true"};
  auto ctx = hostContext(parsed("filesystem/posix,cgroups/all"));
  ctx.image = &image;
  auto json = buildConfigJson(launchWithLimits(), ctx);
  ASSERT_FALSE(json);
  EXPECT_NE(json.error().message.find("filesystem/linux"), std::string::npos) << json.error().message;
  EXPECT_NE(json.error().message.find("--isolation"), std::string::npos) << json.error().message;
}

TEST(IsolationSpec, OwnNetworkNeedsNetworkCni) {
  EXPECT_TRUE(networkAllowed(TaskNetwork{"", {}}, false));
  EXPECT_TRUE(networkAllowed(TaskNetwork{"none", {}}, false));
  EXPECT_TRUE(networkAllowed(TaskNetwork{"bridge", {}}, true));
  auto refused = networkAllowed(TaskNetwork{"bridge", {}}, false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("network/cni"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace nucleo::agent
