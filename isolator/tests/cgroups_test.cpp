// linux.resources JSON -> oci::Resources -> os::CgroupLimits: the parse errors
// a user sees, and the conversions (blockIO, hugepages, device defaults).

#include "isolator/cgroups.hpp"

#include <gtest/gtest.h>

namespace nucleo::isolator {
namespace {

std::string parseError(const char* json) {
  Result<oci::Resources> r = oci::parseResourcesJson(json);
  EXPECT_FALSE(r) << json;
  return r ? "" : r.error().message;
}

TEST(CgroupPlanTest, ParseErrorsNameTheField) {
  EXPECT_EQ(parseError(R"({"memory":{"limit":-5}})"),
            "memory.limit: -5 is negative (-1 means unlimited)");
  EXPECT_NE(parseError(R"({"cpu":{"shares":-1}})").find("cpu.shares"), std::string::npos);
  EXPECT_NE(parseError(R"({"cpu":{"period":10}})").find("cpu.period"), std::string::npos);
  EXPECT_NE(parseError(R"({"cpu":{"cpus":"all"}})").find("cpu.cpus"), std::string::npos);
  EXPECT_NE(parseError(R"({"blockIO":{"weight":5}})").find("blockIO.weight"), std::string::npos);
  EXPECT_NE(parseError(R"({"hugepageLimits":[{"pageSize":"huge","limit":1}]})")
                .find("hugepageLimits[0].pageSize"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"memory":{"swappiness":101}})").find("swappiness"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"memory":{"limit":"1g"}})").find("memory.limit"),
            std::string::npos);
}

TEST(CgroupPlanTest, ConvertsBlockIOHugepagesNetworkAndCpu) {
  Result<oci::Resources> r = oci::parseResourcesJson(R"({
      "cpu": {"quota": 50000, "period": 100000, "burst": 1000, "cpus": "0-1"},
      "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 10}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}})");
  ASSERT_TRUE(r) << r.error().message;
  os::CgroupLimits l = planCgroupLimits(*r);
  EXPECT_EQ(l.cpuQuota, 50000);
  EXPECT_EQ(l.cpuBurst, 1000u);
  EXPECT_EQ(l.cpusetCpus, "0-1");
  EXPECT_FALSE(l.cpusetMems);  // unset stays unset: update leaves it alone
  EXPECT_EQ(l.blkioWeight, 500);
  ASSERT_EQ(l.blkioWeightDevice.size(), 1u);
  EXPECT_EQ(l.blkioWeightDevice[0].value, 200u);
  ASSERT_EQ(l.throttleReadBps.size(), 1u);
  EXPECT_EQ(l.throttleReadBps[0].value, 1048576u);
  EXPECT_EQ(l.throttleWriteIops[0].minor, 16u);
  EXPECT_EQ(l.hugepageLimits.at("2MB"), 4194304u);
  EXPECT_EQ(l.netClassId, 1048577u);
  EXPECT_EQ(l.netPriorities.at("eth0"), 5u);
  EXPECT_FALSE(l.devices);  // no rules: the device controller is left alone
}

TEST(CgroupPlanTest, DeviceRulesGetTheDefaultsAndSpecDevicesAfterThem) {
  Result<oci::Resources> r =
      oci::parseResourcesJson(R"({"devices":[{"allow":false,"access":"rwm"}]})");
  ASSERT_TRUE(r) << r.error().message;
  oci::Device fuse;
  fuse.type = "c";
  fuse.path = "/dev/fuse";
  fuse.major = 10;
  fuse.minor = 229;
  os::CgroupLimits l = planCgroupLimits(*r, {fuse});
  ASSERT_TRUE(l.devices);
  const auto& rules = *l.devices;
  ASSERT_EQ(rules.size(), defaultDeviceRules().size() + 2);
  EXPECT_FALSE(rules.front().allow);
  EXPECT_EQ(rules.front().type, 'a');
  EXPECT_TRUE(rules.back().allow);
  EXPECT_EQ(rules.back().major, 10);
  EXPECT_EQ(rules.back().minor, 229);
}

}  // namespace
}  // namespace nucleo::isolator
