#include "oci/spec.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "oci/state.hpp"

namespace nucleo::oci {
namespace {

std::string withProcess(const std::string& process) {
  return R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":)" + process + "}";
}

std::string errorOf(const std::string& json) {
  auto r = parseSpec(json);
  EXPECT_FALSE(r) << json;
  return r ? "" : r.error().message;
}

TEST(Spec, DefaultSpecRoundTrips) {
  auto spec = parseSpec(defaultSpecJson(false, 0, 0));
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->rootPath, "rootfs");
  EXPECT_TRUE(spec->rootReadonly);
  ASSERT_TRUE(spec->process);
  EXPECT_EQ(spec->process->args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(spec->process->noNewPrivileges);
  EXPECT_EQ(spec->process->capabilities->bounding.size(), 3u);
  EXPECT_EQ(spec->mounts.size(), 7u);
  EXPECT_EQ(spec->mounts[2].options.back(), "gid=5");
  EXPECT_EQ(spec->linux.namespaces.size(), 5u);
  EXPECT_TRUE(spec->linux.hasNamespace("network"));
  EXPECT_FALSE(spec->linux.hasNamespace("user"));
  EXPECT_EQ(spec->linux.maskedPaths.size(), 10u);
  ASSERT_TRUE(spec->linux.resources);
  EXPECT_FALSE(spec->linux.resources->devices.at(0).allow);
}

TEST(Spec, RootlessSpecHasUserNamespaceAndMappings) {
  auto spec = parseSpec(defaultSpecJson(true, 1000, 1000));
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_TRUE(spec->linux.hasNamespace("user"));
  EXPECT_FALSE(spec->linux.hasNamespace("network"));
  EXPECT_EQ(spec->linux.uidMappings.at(0).hostID, 1000u);
  EXPECT_FALSE(spec->linux.resources);
}

TEST(Spec, ErrorsNameTheField) {
  EXPECT_EQ(errorOf("{"), "config.json: invalid JSON: incomplete JSON");
  EXPECT_EQ(errorOf(R"({"root":{"path":"rootfs"}})"), "ociVersion: required");
  EXPECT_EQ(errorOf(R"({"ociVersion":"2.0.0","root":{"path":"r"}})"),
            "ociVersion: \"2.0.0\" is not a supported runtime-spec version (1.x)");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.0"})"), "root.path: required");
  EXPECT_EQ(errorOf(withProcess(R"({"args":["sh", 3],"cwd":"/"})")),
            "process.args[1]: expected a string");
  EXPECT_EQ(errorOf(withProcess(R"({"args":[],"cwd":"/"})")),
            "process: args must name the program to run");
  EXPECT_EQ(errorOf(withProcess(R"({"args":["sh"],"cwd":"tmp"})")),
            "process.cwd: \"tmp\" must be an absolute path");
  EXPECT_EQ(errorOf(withProcess(R"({"args":["sh"],"cwd":"/","env":["NOEQUALS"]})")),
            "process.env[0]: \"NOEQUALS\" is not KEY=VALUE");
  EXPECT_EQ(errorOf(withProcess(R"({"args":["sh"],"cwd":"/","user":{"uid":-1}})")),
            "process.user.uid: expected a non-negative integer");
  EXPECT_EQ(
      errorOf(withProcess(
          R"({"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]})")),
      "process.rlimits[0]: soft limit exceeds hard limit");
  EXPECT_EQ(errorOf(withProcess(R"({"args":["sh"],"cwd":"/","oomScoreAdj":5000})")),
            "process.oomScoreAdj: must be between -1000 and 1000");
}

TEST(Spec, LinuxErrorsNameTheField) {
  auto linux = [](const std::string& body) {
    return R"({"ociVersion":"1.1.0","root":{"path":"rootfs"},"linux":)" + body + "}";
  };
  EXPECT_EQ(errorOf(linux(R"({"namespaces":[{"type":"pidd"}]})")),
            "linux.namespaces[0].type: unknown namespace type \"pidd\"");
  EXPECT_EQ(errorOf(linux(R"({"namespaces":[{"type":"pid"},{"type":"pid"}]})")),
            "linux.namespaces[1].type: duplicate namespace \"pid\"");
  EXPECT_EQ(errorOf(linux(R"({"namespaces":[{"type":"user"}]})")),
            "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
  EXPECT_EQ(errorOf(linux(R"({"resources":{"memory":{"limit":"1g"}}})")),
            "linux.resources.memory.limit: expected an integer");
  EXPECT_EQ(errorOf(linux(R"({"resources":{"memory":{"limit":100,"swap":50}}})")),
            "linux.resources.memory.swap: 50 is below memory.limit 100 (swap is memory+swap)");
  EXPECT_EQ(errorOf(linux(R"({"devices":[{"type":"x","path":"/dev/x"}]})")),
            "linux.devices[0].type: unknown device type \"x\"");
  EXPECT_EQ(errorOf(linux(R"({"rootfsPropagation":"sideways"})")),
            "linux.rootfsPropagation: unknown value \"sideways\"");
  EXPECT_EQ(errorOf(linux(R"({"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}})")),
            "linux.seccomp.syscalls[0]: names must list at least one syscall");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.0","root":{"path":"r"},"hostname":"h"})"),
            "hostname: setting \"h\" requires a new uts namespace");
  EXPECT_EQ(errorOf(R"({"ociVersion":"1.0.0","root":{"path":"r"},"mounts":[{"destination":"proc","type":"proc"}]})"),
            "mounts[0].destination: \"proc\" must be an absolute path");
}

TEST(Spec, ParsesResourcesSeccompAndHooks) {
  auto spec = parseSpec(R"({"ociVersion":"1.2.0","root":{"path":"/r"},
    "hooks":{"poststop":[{"path":"/bin/true","args":["true"],"timeout":3}]},
    "annotations":{"a":"b"},
    "linux":{"resources":{"memory":{"limit":67108864,"swap":-1},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},"pids":{"limit":64},"unified":{"memory.high":"max"}},
      "sysctl":{"net.ipv4.ip_forward":"1"},
      "timeOffsets":{"monotonic":{"secs":10}},
      "namespaces":[{"type":"time"},{"type":"network","path":"/var/run/netns/x"}],
      "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}}})");
  ASSERT_TRUE(spec) << spec.error().message;
  const auto& r = *spec->linux.resources;
  EXPECT_EQ(r.memoryLimit, 67108864);
  EXPECT_EQ(r.memorySwap, -1);
  EXPECT_EQ(r.cpuShares, 512u);
  EXPECT_EQ(r.cpuQuota, 50000);
  EXPECT_EQ(r.cpus, "0");
  EXPECT_EQ(r.pidsLimit, 64);
  EXPECT_EQ(r.unified.at("memory.high"), "max");
  EXPECT_EQ(spec->hooks.poststop.at(0).timeout, 3);
  EXPECT_EQ(spec->annotations.at("a"), "b");
  EXPECT_EQ(spec->linux.timeOffsets.at("monotonic").secs, 10);
  EXPECT_EQ(spec->linux.findNamespace("network")->path, "/var/run/netns/x");
  const auto& sc = *spec->linux.seccomp;
  EXPECT_EQ(sc.defaultErrnoRet, 38u);
  EXPECT_EQ(sc.syscalls.at(0).args.at(0).op, "SCMP_CMP_EQ");
  EXPECT_FALSE(spec->process);
}

TEST(State, JsonOmitsPidWhenStopped) {
  State s;
  s.id = "c1";
  s.status = "stopped";
  s.bundle = "/b";
  EXPECT_EQ(toJson(s, false),
            R"({"ociVersion":"1.2.0","id":"c1","status":"stopped","bundle":"/b"})");
  s.pid = 42;
  s.status = "running";
  s.annotations["k"] = "v";
  EXPECT_EQ(toJson(s, false),
            R"({"ociVersion":"1.2.0","id":"c1","status":"running","pid":42,"bundle":"/b","annotations":{"k":"v"}})");
}

}  // namespace
}  // namespace nucleo::oci
