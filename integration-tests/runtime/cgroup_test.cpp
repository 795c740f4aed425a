// nucleo's cgroup commands end to end: `events --stats` in runc's JSON shape,
// `update` on a running container (and its all-or-nothing failure), the OOM
// event stream, and removal of the cgroup after an OOM kill and while paused.

#include <filesystem>
#include <thread>

#include <gmock/gmock.h>

#include "integration-tests/runtime/fixture.hpp"

namespace nucleo::itest {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

class NucleoCgroup : public RuntimeFixture {
 protected:
  const Runtime* nucleo() {
    std::string why;
    return runtime("nucleo", &why);
  }
  // A detached container running args with linux.resources set to resources.
  std::string startDetached(const Runtime& rt, const std::vector<std::string>& args,
                            const json::object& resources) {
    auto b = bundle();
    if (!b) return "";
    b->setArgs(args);
    json::object& lnx = b->config()["linux"].as_object();
    json::object merged = resources;
    if (auto* old = lnx.if_contains("resources"); old && old->is_object())
      for (const auto& kv : old->as_object())
        if (!merged.contains(kv.key())) merged[kv.key()] = kv.value();
    lnx["resources"] = merged;
    EXPECT_TRUE(b->save());
    std::string id = newId(rt, "cg");
    RunResult r = rt.run({"run", "--detach", "--bundle", b->dir().string(), id});
    EXPECT_EQ(r.exitCode, 0) << r.describe();
    return id;
  }
  json::object statsData(const Runtime& rt, const std::string& id) {
    RunResult r = rt.run({"events", "--stats", id}, 10s);
    EXPECT_EQ(r.exitCode, 0) << r.describe();
    auto v = parseJson(r.out, "events --stats");
    EXPECT_TRUE(v && v->is_object()) << r.out;
    if (!v || !v->is_object()) return {};
    EXPECT_EQ(v->as_object().at("type"), "stats");
    EXPECT_EQ(v->as_object().at("id"), id.c_str());
    return v->as_object().at("data").as_object();
  }
  // Every place the container's cgroup /nucleo/<id> could be, on any layout.
  static std::vector<std::filesystem::path> cgroupDirs(const std::string& id) {
    std::vector<std::filesystem::path> out = {"/sys/fs/cgroup/nucleo/" + id};
    for (const char* h : {"memory", "pids", "cpu", "freezer", "devices", "unified"})
      out.push_back(std::string("/sys/fs/cgroup/") + h + "/nucleo/" + id);
    return out;
  }
  static void expectNoCgroup(const std::string& id) {
    for (const auto& dir : cgroupDirs(id)) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  }
};

uint64_t at(const json::object& o, std::initializer_list<const char*> keys) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (const char* k : keys) {
    v = cur->if_contains(k);
    if (v == nullptr) return UINT64_MAX - 1;
    if (v->is_object()) cur = &v->as_object();
  }
  return v->is_uint64() ? v->as_uint64() : static_cast<uint64_t>(v->as_int64());
}

TEST_F(NucleoCgroup, ROOT_EventsStatsAndUpdateOfARunningContainer) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  std::string id = startDetached(*rt, {"sleep", "30"},
                                 {{"memory", {{"limit", 64 << 20}}}, {"pids", {{"limit", 32}}}});
  json::object data = statsData(*rt, id);
  EXPECT_EQ(at(data, {"memory", "usage", "limit"}), uint64_t{64} << 20);
  EXPECT_GT(at(data, {"memory", "usage", "usage"}), 0u);
  EXPECT_EQ(at(data, {"pids", "limit"}), 32u);
  EXPECT_GE(at(data, {"pids", "current"}), 1u);
  EXPECT_TRUE(data.contains("cpu") && data.contains("blkio"));

  RunResult r = rt->run({"update", "--memory", "128m", "--pids-limit", "64", id});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  data = statsData(*rt, id);
  EXPECT_EQ(at(data, {"memory", "usage", "limit"}), uint64_t{128} << 20);
  EXPECT_EQ(at(data, {"pids", "limit"}), 64u);

  // A CPU the host lacks: one line naming the field, and nothing changed.
  r = rt->run({"update", "--memory", "256m", "--cpuset-cpus", "4095", id});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("cpuset.cpus"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  data = statsData(*rt, id);
  EXPECT_EQ(at(data, {"memory", "usage", "limit"}), uint64_t{128} << 20);

  r = rt->run({"update", "--memory", "lots", id});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("--memory"));
}

TEST_F(NucleoCgroup, ROOT_UpdateFromAResourcesFile) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  std::string id = startDetached(*rt, {"sleep", "30"}, {{"pids", {{"limit", 32}}}});
  std::filesystem::path file = tmpPath() / "resources.json";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(R"({"pids":{"limit":77},"memory":{"limit":100000000}})", f);
    std::fclose(f);
  }
  RunResult r = rt->run({"update", "-r", file.string(), id});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  json::object data = statsData(*rt, id);
  EXPECT_EQ(at(data, {"pids", "limit"}), 77u);
  EXPECT_EQ(at(data, {"memory", "usage", "limit"}) / 4096, 100000000u / 4096);
}

TEST_F(NucleoCgroup, ROOT_OomEventIsStreamedAndTheCgroupRemovedAfterwards) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  // tail buffers a "line" of /dev/zero without end, until the OOM killer.
  std::string id = startDetached(*rt, {"sh", "-c", "sleep 2; tail /dev/zero"},
                                 {{"memory", {{"limit", 32 << 20}, {"swap", 32 << 20}}}});
  RunResult r = rt->run({"events", "--interval", "60s", id}, 60s);
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, HasSubstr(R"({"type":"oom","id":")" + id + "\"}"));
  r = rt->run({"delete", id});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  expectNoCgroup(id);
}

TEST_F(NucleoCgroup, ROOT_DeleteWhilePausedRemovesTheCgroup) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  std::string id = startDetached(*rt, {"sleep", "30"}, {{"pids", {{"limit", 16}}}});
  ASSERT_EQ(rt->run({"pause", id}).exitCode, 0);
  RunResult r = rt->run({"delete", "--force", id});
  EXPECT_EQ(r.exitCode, 0) << r.describe();
  expectNoCgroup(id);
}

TEST_F(NucleoCgroup, ROOT_ALimitTheHostCannotSetLeavesNoCgroup) {
  const Runtime* rt = nucleo();
  ASSERT_TRUE(rt);
  auto b = bundle();
  ASSERT_TRUE(b);
  b->setArgs({"true"});
  b->config()["linux"].as_object()["resources"] =
      json::parse(R"({"cpu":{"cpus":"4095"},"hugepageLimits":[{"pageSize":"3MB","limit":1}]})");
  ASSERT_TRUE(b->save());
  std::string id = newId(*rt, "badcg");
  RunResult r = rt->run({"run", "--bundle", b->dir().string(), id});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  expectNoCgroup(id);
}

}  // namespace
}  // namespace nucleo::itest
