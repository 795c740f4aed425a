#include "isolator/plan.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "oci/state.hpp"

namespace nucleo::isolator {
namespace {

oci::Spec defaultSpec() {
  auto spec = oci::parseSpec(oci::defaultSpecJson(false, 0, 0));
  EXPECT_TRUE(spec);
  return *spec;
}

TEST(ProcessPlan, MapsCapabilitiesRlimitsAndUser) {
  oci::Spec spec = defaultSpec();
  spec.process->user.uid = 1000;
  spec.process->user.umask = 027;
  spec.process->oomScoreAdj = 100;
  auto plan = planProcess(*spec.process);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->identity.uid, 1000u);
  EXPECT_EQ(plan->identity.umask, mode_t(027));
  ASSERT_TRUE(plan->capabilities);
  EXPECT_EQ(plan->capabilities->bounding,
            (std::vector<int>{CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE}));
  EXPECT_TRUE(plan->capabilities->inheritable.empty());
  ASSERT_EQ(plan->rlimits.size(), 1u);
  EXPECT_EQ(plan->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(plan->rlimits[0].limit.rlim_cur, 1024u);
  EXPECT_TRUE(plan->noNewPrivileges);
  EXPECT_EQ(plan->oomScoreAdj, 100);
}

TEST(ProcessPlan, UnknownCapabilityAndRlimitAreNamed) {
  oci::Spec spec = defaultSpec();
  spec.process->capabilities->effective.push_back("CAP_FLY");
  auto plan = planProcess(*spec.process);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("process.capabilities.effective"), std::string::npos);
  EXPECT_NE(plan.error().message.find("CAP_FLY"), std::string::npos);

  spec = defaultSpec();
  spec.process->rlimits.push_back({"RLIMIT_WINGS", 1, 1});
  plan = planProcess(*spec.process);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "process.rlimits[1].type: unknown rlimit \"RLIMIT_WINGS\"");
}

TEST(ProcessPlan, NoCapabilitiesObjectMeansNone) {
  oci::Spec spec = defaultSpec();
  spec.process->capabilities.reset();
  auto plan = planProcess(*spec.process);
  ASSERT_TRUE(plan);
  ASSERT_TRUE(plan->capabilities);
  EXPECT_TRUE(plan->capabilities->bounding.empty());
}

TEST(SeccompPlan, ValidatesActions) {
  oci::Seccomp s;
  s.defaultAction = "SCMP_ACT_ERRNO";
  s.syscalls.push_back({{"mkdir"}, "SCMP_ACT_NOTIFY", std::nullopt, {}});
  auto plan = planSeccomp(s);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("SCMP_ACT_NOTIFY"), std::string::npos);
  s.syscalls[0].action = "SCMP_ACT_ALLOW";
  s.syscalls[0].args.push_back({0, 1, 0, "SCMP_CMP_EQ"});
  plan = planSeccomp(s);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->syscalls.at(0).args.at(0).op, "SCMP_CMP_EQ");
}

TEST(CgroupPlan, LimitsAndPath) {
  oci::Resources r;
  r.memoryLimit = 64 << 20;
  r.cpuShares = 512;
  r.cpus = "0-1";
  r.pidsLimit = 64;
  auto limits = planCgroupLimits(r);
  EXPECT_EQ(limits.memoryLimit, 64 << 20);
  EXPECT_EQ(limits.cpuShares, 512u);
  EXPECT_EQ(limits.cpusetCpus, "0-1");
  EXPECT_FALSE(limits.cpusetMems);
  EXPECT_EQ(limits.pidsLimit, 64);

  oci::Spec spec = defaultSpec();
  EXPECT_EQ(*planCgroupPath(spec, "c1"), "/nucleo/c1");
  spec.linux.cgroupsPath = "/custom/a";
  EXPECT_EQ(*planCgroupPath(spec, "c1"), "/custom/a");
  spec.linux.cgroupsPath = "";
  EXPECT_EQ(*planCgroupPath(spec, "c1", "/tenants/a"), "/tenants/a/c1");
  spec.linux.cgroupsPath = "web/c1";
  EXPECT_EQ(*planCgroupPath(spec, "c1", "/tenants/a"), "/tenants/a/web/c1");
  spec.linux.cgroupsPath = "system.slice:nucleo:c1";
  EXPECT_FALSE(planCgroupPath(spec, "c1"));
  spec.linux.cgroupsPath = "/a/../../etc";
  EXPECT_FALSE(planCgroupPath(spec, "c1"));
}

TEST(RootfsPlan, ResolvesRootfsAndChecksMounts) {
  char tmpl[] = "/tmp/nucleo-plan-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string bundle = tmpl;
  oci::Spec spec = defaultSpec();
  auto missing = planRootfs(spec, bundle, false);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("root.path: rootfs '" + bundle + "/rootfs'"),
            std::string::npos);
  ASSERT_TRUE(fs::makeDirs(bundle + "/rootfs"));
  spec.mounts.push_back({"/data", "bind", "data", {"rbind", "ro"}});
  auto plan = planRootfs(spec, bundle, false);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->rootfs, bundle + "/rootfs");
  EXPECT_TRUE(plan->readonly);
  EXPECT_EQ(plan->mounts.back().source, bundle + "/data");
  EXPECT_EQ(plan->maskedPaths.size(), 10u);
  spec.mounts.push_back({"/x", "tmpfs", "tmpfs", {"tmpcopyup"}});
  auto bad = planRootfs(spec, bundle, false);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("tmpcopyup"), std::string::npos);
  EXPECT_NE(bad.error().message.find("/x"), std::string::npos);
  ASSERT_TRUE(fs::removeAll(bundle));
}

}  // namespace
}  // namespace nucleo::isolator

namespace nucleo::isolator {
namespace {

TEST(ProcessPlan, SchedulingKnobs) {
  auto spec = oci::parseSpec(R"({"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["true"],"cwd":"/",
      "scheduler":{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_FLAG_RESET_ON_FORK"]},
      "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":0},
      "execCPUAffinity":{"initial":"0","final":"0-1,3"}}})");
  ASSERT_TRUE(spec) << spec.error().message;
  auto plan = planProcess(*spec->process);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->scheduler->policy, 3u);  // SCHED_BATCH
  EXPECT_EQ(plan->scheduler->nice, 5);
  EXPECT_EQ(plan->scheduler->flags, 1u);   // SCHED_FLAG_RESET_ON_FORK
  EXPECT_EQ(plan->ioPriority->first, 3);   // IOPRIO_CLASS_IDLE
  EXPECT_EQ(plan->cpuAffinityFinal, (std::vector<int>{0, 1, 3}));

  spec->process->scheduler->policy = "SCHED_FAST";
  plan = planProcess(*spec->process);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message, "process.scheduler.policy: unknown scheduler policy \"SCHED_FAST\"");
  spec->process->scheduler.reset();
  spec->process->cpuAffinityFinal = "3-1";
  plan = planProcess(*spec->process);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message,
            "process.execCPUAffinity.final: \"3-1\" is not a CPU list such as 0-3,7");
  auto bad = oci::parseSpec(R"({"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["true"],"cwd":"/",
      "ioPriority":{"class":"IOPRIO_CLASS_BE","priority":9}}})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "process.ioPriority: priority must be between 0 and 7");
}

}  // namespace
}  // namespace nucleo::isolator
