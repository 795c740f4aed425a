// config.json from TaskInfo-like inputs, field by field, through the same
// parser the runtime uses.
#include "agent/containers/spec_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "agent/containers/tests/launch_helpers.hpp"
#include "oci/spec.hpp"

namespace nucleo::agent {
namespace {

using Strings = std::vector<std::string>;
using test_support::scalar;

ContainerLaunch baseLaunch() { return test_support::echoLaunch(); }

images::ImageConfig busybox() {
  images::ImageConfig c;
  c.entrypoint = Strings{"/bin/entry"};
  c.cmd = Strings{"default-arg"};
  c.env = {"IMAGE_VAR=from-image", "PATH=/bin"};
  c.user = "user";
  return c;
}

SpecContext imageContext(const images::ImageConfig& image) {
  SpecContext ctx;
  ctx.image = &image;
  ctx.rootfs = "/work/containers/task-1/bundle/rootfs";
  ctx.cgroupsPath = "/nucleo-agent/task-1";
  ctx.sandboxMountPoint = "/mnt/mesos/sandbox";
  return ctx;
}

oci::Spec build(const ContainerLaunch& l, const SpecContext& ctx) {
  auto json = buildConfigJson(l, ctx);
  EXPECT_TRUE(json) << json.error().message;
  auto spec = oci::parseSpec(json ? *json : "{}");
  EXPECT_TRUE(spec) << spec.error().message;
  return spec ? *spec : oci::Spec{};
}

bool has(const Strings& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(CommandArgs, ShellValueAndArgumentsAndImage) {
  auto image = busybox();
  mesos::v1::CommandInfo c;
  c.set_value("echo $HOME && ls");
  EXPECT_EQ(*commandArgs(c, &image), (Strings{"/bin/sh", "-c", "echo $HOME && ls"}));
  c.set_shell(false);
  c.set_value("/usr/bin/env");
  c.add_arguments("env");
  c.add_arguments("-i");
  EXPECT_EQ(*commandArgs(c, &image), (Strings{"/usr/bin/env", "-i"})) << "arguments[0] is argv[0]";
  c.clear_value();
  EXPECT_EQ(*commandArgs(c, &image), (Strings{"/bin/entry", "env", "-i"})) << "no value: image entrypoint";
  c.clear_arguments();
  EXPECT_EQ(*commandArgs(c, &image), (Strings{"/bin/entry", "default-arg"}));
  EXPECT_FALSE(commandArgs(c, nullptr)) << "nothing to run on the host filesystem";
  mesos::v1::CommandInfo empty;
  EXPECT_FALSE(commandArgs(empty, &image));
}

TEST(CommandEnv, LayersAndRefusesSecrets) {
  auto image = busybox();
  auto l = baseLaunch();
  l.environment = {{"MESOS_TASK_ID", "t1"}, {"IMAGE_VAR", "from-agent"}, {"MESOS_SANDBOX", "/host/path"}};
  auto* v = l.command.mutable_environment()->add_variables();
  v->set_name("USER_VAR");
  v->set_value("x=y");
  auto env = commandEnv(l, &image, "/mnt/mesos/sandbox");
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_TRUE(has(*env, "PATH=/bin"));
  EXPECT_TRUE(has(*env, "IMAGE_VAR=from-agent"));
  EXPECT_TRUE(has(*env, "MESOS_TASK_ID=t1"));
  EXPECT_TRUE(has(*env, "USER_VAR=x=y"));
  EXPECT_TRUE(has(*env, "MESOS_SANDBOX=/mnt/mesos/sandbox")) << "the path inside the container wins";
  EXPECT_FALSE(has(*env, "MESOS_SANDBOX=/host/path"));

  auto hostEnv = commandEnv(baseLaunch(), nullptr, "/sb");
  ASSERT_TRUE(hostEnv);
  EXPECT_TRUE(has(*hostEnv, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));

  auto* secret = l.command.mutable_environment()->add_variables();
  secret->set_name("TOKEN");
  secret->set_type(mesos::v1::Environment::Variable::SECRET);
  auto refused = commandEnv(l, &image, "/mnt/mesos/sandbox");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("TOKEN"), std::string::npos) << refused.error().message;
}

TEST(TaskLimits, CpusAndMem) {
  auto limits = taskLimits({scalar("cpus", 1.5), scalar("mem", 128), scalar("disk", 1000)});
  ASSERT_TRUE(limits);
  EXPECT_EQ(limits->cpuShares, 1536u);
  EXPECT_EQ(limits->cpuQuota, 150000);
  EXPECT_EQ(limits->memoryBytes, 128LL << 20);
  auto tiny = taskLimits({scalar("cpus", 0.001), scalar("mem", 4)});
  EXPECT_EQ(tiny->cpuShares, 2u) << "the kernel's minimum";
  EXPECT_EQ(tiny->memoryBytes, 32LL << 20) << "Mesos's 32 MB minimum";
  auto none = taskLimits({});
  EXPECT_FALSE(none->cpuShares);
  EXPECT_FALSE(none->memoryBytes);
  EXPECT_FALSE(taskLimits({scalar("mem", -1)}));
}

TEST(Capabilities, MesosNumbering) {
  mesos::v1::CapabilityInfo info;
  info.add_capabilities(mesos::v1::CapabilityInfo::NET_ADMIN);
  info.add_capabilities(mesos::v1::CapabilityInfo::CHOWN);
  info.add_capabilities(mesos::v1::CapabilityInfo::CHECKPOINT_RESTORE);
  EXPECT_EQ(*capabilityNames(info), (Strings{"CAP_NET_ADMIN", "CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}));
  info.add_capabilities(mesos::v1::CapabilityInfo::UNKNOWN);
  EXPECT_FALSE(capabilityNames(info));
}

TEST(BuildConfig, ImageTaskFieldByField) {
  auto image = busybox();
  auto l = baseLaunch();
  l.resources = {scalar("cpus", 0.5), scalar("mem", 64)};
  mesos::v1::ContainerInfo c;
  c.set_hostname("web-1");
  l.container = c;
  auto ctx = imageContext(image);
  ctx.user.uid = 1000;
  ctx.user.gid = 100;
  ctx.user.additionalGids = {2000};
  oci::Spec spec = build(l, ctx);
  ASSERT_TRUE(spec.process);
  const auto& p = *spec.process;
  EXPECT_FALSE(p.terminal);
  EXPECT_EQ(p.args, (Strings{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.cwd, "/mnt/mesos/sandbox");
  EXPECT_TRUE(p.rlimits.empty()) << "the agent's rlimits are inherited";
  EXPECT_TRUE(p.noNewPrivileges);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 100u);
  EXPECT_EQ(p.user.additionalGids, std::vector<uint32_t>{2000});
  ASSERT_TRUE(p.capabilities);
  EXPECT_TRUE(has(p.capabilities->bounding, "CAP_CHOWN"));
  EXPECT_TRUE(p.capabilities->effective.empty()) << "a non-root task gets no capabilities unless asked";
  EXPECT_EQ(spec.rootPath, ctx.rootfs);
  EXPECT_FALSE(spec.rootReadonly);
  EXPECT_EQ(spec.hostname, "web-1");
  auto sandbox = std::find_if(spec.mounts.begin(), spec.mounts.end(),
                              [](const oci::Mount& m) { return m.destination == "/mnt/mesos/sandbox"; });
  ASSERT_NE(sandbox, spec.mounts.end());
  EXPECT_EQ(sandbox->source, l.sandbox);
  EXPECT_TRUE(has(sandbox->options, "rbind"));
  EXPECT_TRUE(has(sandbox->options, "rw"));
  EXPECT_TRUE(spec.linux.hasNamespace("mount"));
  EXPECT_TRUE(spec.linux.hasNamespace("pid"));
  EXPECT_TRUE(spec.linux.hasNamespace("ipc"));
  EXPECT_TRUE(spec.linux.hasNamespace("uts"));
  EXPECT_FALSE(spec.linux.hasNamespace("network")) << "the host's network, as Mesos without a network isolator";
  EXPECT_EQ(spec.linux.cgroupsPath, "/nucleo-agent/task-1");
  ASSERT_TRUE(spec.linux.resources);
  EXPECT_EQ(spec.linux.resources->cpuShares, 512u);
  EXPECT_EQ(spec.linux.resources->cpuQuota, 50000);
  EXPECT_EQ(spec.linux.resources->cpuPeriod, 100000u);
  EXPECT_EQ(spec.linux.resources->memoryLimit, 64LL << 20);
  ASSERT_TRUE(spec.linux.seccomp) << "the default profile";
  EXPECT_EQ(spec.linux.seccomp->defaultAction, "SCMP_ACT_ALLOW");
  ASSERT_EQ(spec.linux.seccomp->syscalls.size(), 1u);
  EXPECT_TRUE(has(spec.linux.seccomp->syscalls[0].names, "kexec_load"));
  EXPECT_EQ(spec.linux.seccomp->syscalls[0].action, "SCMP_ACT_ERRNO");
}

TEST(BuildConfig, LinuxInfoCapsSeccompAndSharedPid) {
  auto image = busybox();
  auto l = baseLaunch();
  mesos::v1::ContainerInfo c;
  auto* li = c.mutable_linux_info();
  li->mutable_bounding_capabilities()->add_capabilities(mesos::v1::CapabilityInfo::NET_ADMIN);
  li->mutable_bounding_capabilities()->add_capabilities(mesos::v1::CapabilityInfo::KILL);
  li->mutable_effective_capabilities()->add_capabilities(mesos::v1::CapabilityInfo::NET_ADMIN);
  li->mutable_seccomp()->set_unconfined(true);
  li->set_share_pid_namespace(true);
  l.container = c;
  auto ctx = imageContext(image);  // root user
  oci::Spec spec = build(l, ctx);
  ASSERT_TRUE(spec.process && spec.process->capabilities);
  EXPECT_EQ(spec.process->capabilities->bounding, (Strings{"CAP_NET_ADMIN", "CAP_KILL"}));
  EXPECT_EQ(spec.process->capabilities->effective, (Strings{"CAP_NET_ADMIN"}));
  EXPECT_EQ(spec.process->capabilities->permitted, (Strings{"CAP_NET_ADMIN"}));
  EXPECT_FALSE(spec.linux.seccomp);
  EXPECT_FALSE(spec.linux.hasNamespace("pid"));

  l.container->mutable_linux_info()->mutable_effective_capabilities()->add_capabilities(
      mesos::v1::CapabilityInfo::UNKNOWN);
  EXPECT_FALSE(buildConfigJson(l, ctx));
}

TEST(BuildConfig, RootGetsDefaultCapabilities) {
  auto image = busybox();
  oci::Spec spec = build(baseLaunch(), imageContext(image));
  ASSERT_TRUE(spec.process && spec.process->capabilities);
  EXPECT_EQ(spec.process->capabilities->effective, defaultCapabilities());
  EXPECT_FALSE(has(spec.process->capabilities->bounding, "CAP_SYS_ADMIN"));
  EXPECT_EQ(spec.hostname, "task-1") << "the container id without ContainerInfo.hostname";
}

TEST(BuildConfig, HostFilesystem) {
  auto l = baseLaunch();
  SpecContext ctx;
  ctx.rootfs = "/work/containers/task-1/bundle/rootfs";  // a bind of the host's /
  ctx.cgroupsPath = "/nucleo-agent/task-1";
  ctx.sandboxMountPoint = "/mnt/mesos/sandbox";
  oci::Spec spec = build(l, ctx);
  EXPECT_EQ(spec.rootPath, ctx.rootfs);
  EXPECT_TRUE(spec.rootReadonly);
  EXPECT_EQ(spec.process->cwd, l.sandbox) << "no image: the sandbox keeps its host path";
  EXPECT_TRUE(has(spec.process->env, "MESOS_SANDBOX=" + l.sandbox));
  auto at = [&](const std::string& dest) {
    return std::find_if(spec.mounts.begin(), spec.mounts.end(), [&](const oci::Mount& m) { return m.destination == dest; });
  };
  ASSERT_NE(at("/tmp"), spec.mounts.end());
  EXPECT_EQ(at("/tmp")->type, "bind");
  EXPECT_EQ(at("/tmp")->source, "/tmp") << "the host's /tmp, as Mesos's posix tasks see it";
  ASSERT_NE(at(l.sandbox), spec.mounts.end());
  EXPECT_GT(at(l.sandbox), at("/tmp")) << "the sandbox bind comes after /tmp, which may hold it";
  EXPECT_NE(at("/proc"), spec.mounts.end());
}

TEST(BuildConfig, PodJoinsNamespaces) {
  auto image = busybox();
  auto ctx = imageContext(image);
  ctx.pod = PodNamespaces{"/proc/42/ns/ipc", "/proc/42/ns/uts", "/proc/42/ns/net", "/work/pods/p/shm", ""};
  oci::Spec spec = build(baseLaunch(), ctx);
  ASSERT_NE(spec.linux.findNamespace("ipc"), nullptr);
  EXPECT_EQ(spec.linux.findNamespace("ipc")->path, "/proc/42/ns/ipc");
  EXPECT_EQ(spec.linux.findNamespace("uts")->path, "/proc/42/ns/uts");
  EXPECT_EQ(spec.linux.findNamespace("network")->path, "/proc/42/ns/net");
  EXPECT_EQ(spec.linux.findNamespace("pid")->path, "") << "each task keeps its own pid namespace";
  EXPECT_EQ(spec.linux.findNamespace("mount")->path, "");
  EXPECT_EQ(spec.hostname, "") << "the pod's UTS namespace has the hostname";
  auto shm = std::find_if(spec.mounts.begin(), spec.mounts.end(),
                          [](const oci::Mount& m) { return m.destination == "/dev/shm"; });
  ASSERT_NE(shm, spec.mounts.end());
  EXPECT_EQ(shm->source, "/work/pods/p/shm") << "POSIX shm shared by the pod's tasks";
}

}  // namespace
}  // namespace nucleo::agent
