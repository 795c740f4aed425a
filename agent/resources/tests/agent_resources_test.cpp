#include "agent/resources/agent_resources.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::Resource;
using mesos::v1::Value;

const Resource* find(const std::vector<Resource>& rs, const std::string& name) {
  for (const auto& r : rs)
    if (r.name() == name) return &r;
  return nullptr;
}

TEST(ParseResources, MesosTextSyntax) {
  auto rs = parseResources("cpus:4;mem:8192.5; disk:20000 ;ports:[31000-32000,33000-33100];gpus:0");
  ASSERT_TRUE(rs) << rs.error().message;
  ASSERT_EQ(rs->size(), 5u);
  EXPECT_EQ(find(*rs, "cpus")->scalar().value(), 4);
  EXPECT_EQ(find(*rs, "mem")->scalar().value(), 8192.5);
  EXPECT_EQ(find(*rs, "disk")->type(), Value::SCALAR);
  const Resource* ports = find(*rs, "ports");
  ASSERT_EQ(ports->type(), Value::RANGES);
  ASSERT_EQ(ports->ranges().range_size(), 2);
  EXPECT_EQ(ports->ranges().range(0).begin(), 31000u);
  EXPECT_EQ(ports->ranges().range(0).end(), 32000u);
  EXPECT_EQ(ports->ranges().range(1).begin(), 33000u);
  EXPECT_EQ(find(*rs, "gpus")->scalar().value(), 0);
  EXPECT_EQ(find(*rs, "cpus")->role(), "*");
  EXPECT_EQ(find(*rs, "cpus")->reservations_size(), 0);
}

TEST(ParseResources, RolesSetsAndMergedRanges) {
  auto rs = parseResources("cpus(web):2;cpus:1;zones:{a, b};ports:[5-9,1-4,20-20]");
  ASSERT_TRUE(rs) << rs.error().message;
  ASSERT_EQ(rs->size(), 4u);
  const Resource& reserved = (*rs)[0];
  ASSERT_EQ(reserved.reservations_size(), 1);
  EXPECT_EQ(reserved.reservations(0).role(), "web");
  EXPECT_EQ(reserved.reservations(0).type(), Resource::ReservationInfo::STATIC);
  EXPECT_EQ((*rs)[1].reservations_size(), 0);
  const Resource* zones = find(*rs, "zones");
  ASSERT_EQ(zones->type(), Value::SET);
  ASSERT_EQ(zones->set().item_size(), 2);
  EXPECT_EQ(zones->set().item(1), "b");
  const Resource* ports = find(*rs, "ports");
  ASSERT_EQ(ports->ranges().range_size(), 2);  // 1-4 and 5-9 join
  EXPECT_EQ(ports->ranges().range(0).begin(), 1u);
  EXPECT_EQ(ports->ranges().range(0).end(), 9u);
  EXPECT_EQ(formatResources(*rs), "cpus(web):2;cpus:1;zones:{a,b};ports:[1-9,20-20]");
}

TEST(ParseResources, ErrorsNameTheEntry) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"cpus:4;mem", "entry 'mem'"},
      {"cpus:four", "entry 'cpus:four'"},
      {"cpus:-1", "negative"},
      {"ports:[32000-31000]", "begin after end"},
      {"ports:[31000]", "bad range '31000'"},
      {"ports:[1-2", "missing ']'"},
      {"s:{a,a}", "duplicate set item 'a'"},
      {"cpus(..):1", "invalid role '..'"},
      {"cpus(a:1", "missing ')'"},
      {"cpus:1;cpus:2", "'cpus' given twice"},
      {":3", "invalid resource name"},
  };
  for (const auto& c : cases) {
    auto rs = parseResources(c.text);
    ASSERT_FALSE(rs) << c.text;
    EXPECT_NE(rs.error().message.find(c.expect), std::string::npos)
        << c.text << " -> " << rs.error().message;
  }
}

TEST(ParseResources, JsonArray) {
  auto rs = parseResources(R"([
    {"name":"cpus","type":"SCALAR","scalar":{"value":2.5}},
    {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":100,"end":200}]}},
    {"name":"mem","type":"SCALAR","scalar":{"value":512},
     "reservations":[{"type":"STATIC","role":"db"}]}])");
  ASSERT_TRUE(rs) << rs.error().message;
  ASSERT_EQ(rs->size(), 3u);
  EXPECT_EQ(formatResources(*rs), "cpus:2.5;ports:[100-200];mem(db):512");

  auto bad = parseResources(R"([{"name":"cpus","type":"SCALAR","scalar":{"value":1}},
                                {"name":"mem","type":"SCALAR"}])");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("JSON entry #1 ('mem')"), std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(parseResources("[{\"name\":"));
  EXPECT_FALSE(parseResources(R"([{"name":"t","type":"TEXT","text":{"value":"x"}}])"));
}

TEST(ParseResources, FormatRoundTrips) {
  std::string text = "cpus:0.125;mem(a/b):1024;ports:[31000-32000];disks:{sda,sdb}";
  auto rs = parseResources(text);
  ASSERT_TRUE(rs) << rs.error().message;
  EXPECT_EQ(formatResources(*rs), text);
  auto again = parseResources(formatResources(*rs));
  ASSERT_TRUE(again);
  EXPECT_EQ(formatResources(*again), text);
}

TEST(ParseAttributes, TypesByValue) {
  auto as = parseAttributes("rack:a;zone:1;ports:[1-2];tags:{x,y};host:node-1.example");
  ASSERT_TRUE(as) << as.error().message;
  ASSERT_EQ(as->size(), 5u);
  EXPECT_EQ((*as)[0].type(), Value::TEXT);
  EXPECT_EQ((*as)[0].text().value(), "a");
  EXPECT_EQ((*as)[1].type(), Value::SCALAR);
  EXPECT_EQ((*as)[1].scalar().value(), 1);
  EXPECT_EQ((*as)[2].type(), Value::RANGES);
  EXPECT_EQ((*as)[3].type(), Value::SET);
  EXPECT_EQ((*as)[4].text().value(), "node-1.example");
  auto bad = parseAttributes("rack:a;zone");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("entry 'zone'"), std::string::npos);
}

class CompleteResources : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/agent_resources_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.workDir = dir_;
    options_.meminfoPath = dir_ + "/meminfo";
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  void meminfo(uint64_t totalKb) {
    ASSERT_TRUE(fs::writeFileAtomic(options_.meminfoPath,
                                    fmt::format("MemTotal:       {} kB\nMemFree:  1 kB\n", totalKb)));
  }
  std::string dir_;
  DetectOptions options_;
};

TEST_F(CompleteResources, DetectsWhatIsMissing) {
  meminfo(8ull << 20);  // 8 GiB: 1 GiB left to the system
  auto rs = completeResources({}, options_);
  ASSERT_TRUE(rs) << rs.error().message;
  cpu_set_t set;
  ASSERT_EQ(::sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(find(*rs, "cpus")->scalar().value(), CPU_COUNT(&set));
  EXPECT_EQ(find(*rs, "mem")->scalar().value(), 7 * 1024);
  struct statvfs st;
  ASSERT_EQ(::statvfs(dir_.c_str(), &st), 0);
  double totalMb = static_cast<double>(st.f_blocks) * st.f_frsize / (1 << 20);
  double disk = find(*rs, "disk")->scalar().value();
  EXPECT_GT(disk, 0);
  EXPECT_LE(disk, totalMb);
  EXPECT_EQ(formatResources({*find(*rs, "ports")}), "ports:[31000-32000]");
}

TEST_F(CompleteResources, SmallMachineKeepsHalfAndGivenStays) {
  meminfo(1ull << 20);  // 1 GiB: half is left
  auto given = parseResources("cpus:16;ports:[1000-1001]");
  ASSERT_TRUE(given);
  auto rs = completeResources(*given, options_);
  ASSERT_TRUE(rs) << rs.error().message;
  ASSERT_EQ(rs->size(), 4u);
  EXPECT_EQ(find(*rs, "cpus")->scalar().value(), 16);
  EXPECT_EQ(find(*rs, "mem")->scalar().value(), 512);
  EXPECT_EQ(formatResources({*find(*rs, "ports")}), "ports:[1000-1001]");

  options_.memoryReserveMb = 100;
  rs = completeResources({}, options_);
  ASSERT_TRUE(rs);
  EXPECT_EQ(find(*rs, "mem")->scalar().value(), 1024 - 100);
}

TEST_F(CompleteResources, ErrorsNameTheSource) {
  auto rs = completeResources({}, options_);  // no meminfo written
  ASSERT_FALSE(rs);
  EXPECT_NE(rs.error().message.find(options_.meminfoPath), std::string::npos);
  meminfo(1024);
  options_.workDir = dir_ + "/missing";
  rs = completeResources({}, options_);
  ASSERT_FALSE(rs);
  EXPECT_NE(rs.error().message.find("statvfs '" + options_.workDir + "'"), std::string::npos);
}

}  // namespace
}  // namespace nucleo::agent
