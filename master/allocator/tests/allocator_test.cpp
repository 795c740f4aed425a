// Hierarchical DRF allocator tests, driven by a FakeClock as Mesos's
// hierarchical allocator tests drive libprocess's clock.

#include <chrono>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "master/allocator/allocator.hpp"
#include "master/allocator/offer_book.hpp"

namespace nucleo::master {
namespace {

using namespace std::chrono_literals;

Resources R(const char* text) { return *Resources::parse(text); }

// Allocations counted by framework.
std::map<std::string, int> countByFramework(const std::vector<Allocation>& allocations) {
  std::map<std::string, int> out;
  for (const auto& a : allocations) ++out[a.frameworkId];
  return out;
}

class AllocatorTest : public ::testing::Test {
 protected:
  void addAgents(int n, const char* resources = "cpus:4;mem:4096;ports:[31000-32000]") {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(allocator.addAgent(fmt::format("agent{}", agents++), R(resources)));
  }
  FakeClock clock;
  Allocator allocator{clock};
  int agents = 0;
};

TEST_F(AllocatorTest, OneFrameworkGetsEveryAgentOnce) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(3);
  auto first = allocator.allocate();
  ASSERT_EQ(first.size(), 3u);
  for (const auto& a : first) {
    EXPECT_EQ(a.frameworkId, "f1");
    EXPECT_EQ(a.role, "*");
    EXPECT_TRUE(a.resources == R("cpus:4;mem:4096;ports:[31000-32000]"));
  }
  EXPECT_TRUE(allocator.allocate().empty());  // everything is out
  EXPECT_TRUE(allocator.available("agent0").empty());
}

TEST_F(AllocatorTest, FrameworksOfOneRoleShareFairly) {
  ASSERT_TRUE(allocator.addFramework("f1", {"r"}));
  ASSERT_TRUE(allocator.addFramework("f2", {"r"}));
  addAgents(4);
  auto counts = countByFramework(allocator.allocate());
  EXPECT_EQ(counts["f1"], 2);
  EXPECT_EQ(counts["f2"], 2);
  EXPECT_DOUBLE_EQ(allocator.frameworkShare("r", "f1"), 0.5);
}

TEST_F(AllocatorTest, RoleWeightsSkewShares) {
  allocator.setWeight("big", 2);
  ASSERT_TRUE(allocator.addFramework("fbig", {"big"}));
  ASSERT_TRUE(allocator.addFramework("fsmall", {"small"}));
  addAgents(6);
  auto counts = countByFramework(allocator.allocate());
  EXPECT_EQ(counts["fbig"], 4);
  EXPECT_EQ(counts["fsmall"], 2);
}

TEST_F(AllocatorTest, RolesAreSortedBeforeFrameworks) {
  // Two frameworks in role a, one in role b: roles split the cluster evenly,
  // role a's half is split between its frameworks.
  ASSERT_TRUE(allocator.addFramework("a1", {"a"}));
  ASSERT_TRUE(allocator.addFramework("a2", {"a"}));
  ASSERT_TRUE(allocator.addFramework("b1", {"b"}));
  addAgents(4);
  auto counts = countByFramework(allocator.allocate());
  EXPECT_EQ(counts["a1"], 1);
  EXPECT_EQ(counts["a2"], 1);
  EXPECT_EQ(counts["b1"], 2);
  EXPECT_DOUBLE_EQ(allocator.roleShare("a"), 0.5);
}

TEST_F(AllocatorTest, DominantResourceDecides) {
  // f1 holds a memory-heavy agent, f2 a cpu-light one: the next agent goes to
  // the framework with the smaller dominant share.
  ASSERT_TRUE(allocator.addAgent("mem", R("cpus:1;mem:8000")));
  ASSERT_TRUE(allocator.addAgent("cpu", R("cpus:4;mem:100")));
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  auto first = allocator.allocate();  // f1 takes both: it is alone
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(allocator.addFramework("f2", {"*"}));
  allocator.recoverResources("f1", "*", "cpu", R("cpus:4;mem:100"));
  auto second = allocator.allocate();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].frameworkId, "f2");
}

TEST_F(AllocatorTest, DeclineFilterHoldsForRefuseSeconds) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(1);
  auto offer = allocator.allocate().at(0);
  allocator.recoverResources("f1", "*", "agent0", offer.resources, 5s);
  EXPECT_TRUE(allocator.allocate().empty());
  clock.advance(4900ms);
  EXPECT_TRUE(allocator.allocate().empty());
  clock.advance(100ms);
  auto again = allocator.allocate();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].frameworkId, "f1");
}

TEST_F(AllocatorTest, DeclinedResourcesGoToTheNextFramework) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  ASSERT_TRUE(allocator.addFramework("f2", {"*"}));
  addAgents(1);
  auto offer = allocator.allocate().at(0);
  allocator.recoverResources(offer.frameworkId, "*", "agent0", offer.resources, 5s);
  auto next = allocator.allocate();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0].frameworkId, offer.frameworkId);
}

TEST_F(AllocatorTest, FilterBlocksOnlyContainedResources) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(1);
  auto all = allocator.allocate().at(0).resources;
  // Keep cpus:1 (a task), decline the rest for an hour.
  allocator.recoverResources("f1", "*", "agent0", all - R("cpus:1"), 1h);
  EXPECT_TRUE(allocator.allocate().empty());
  // The task ends: more is free than was declined, so the filter does not apply.
  allocator.recoverResources("f1", "*", "agent0", R("cpus:1"));
  auto next = allocator.allocate();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].resources == all);
}

TEST_F(AllocatorTest, ZeroRefuseSecondsMeansNoFilter) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(1);
  auto offer = allocator.allocate().at(0);
  allocator.recoverResources("f1", "*", "agent0", offer.resources, 0s);
  EXPECT_EQ(allocator.allocate().size(), 1u);
}

TEST_F(AllocatorTest, SuppressStopsOffersReviveResumesAndClearsFilters) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(2);
  auto offers = allocator.allocate();
  ASSERT_EQ(offers.size(), 2u);
  allocator.recoverResources("f1", "*", offers[0].agentId, offers[0].resources, 1h);
  allocator.suppress("f1", {});
  allocator.recoverResources("f1", "*", offers[1].agentId, offers[1].resources);
  EXPECT_TRUE(allocator.allocate().empty());
  allocator.revive("f1", {});
  EXPECT_EQ(allocator.allocate().size(), 2u);  // the 1 h filter is gone too
}

TEST_F(AllocatorTest, SuppressIsPerRole) {
  ASSERT_TRUE(allocator.addFramework("f1", {"a", "b"}, {"a"}));
  addAgents(2);
  auto offers = allocator.allocate();
  ASSERT_EQ(offers.size(), 2u);
  for (const auto& o : offers) EXPECT_EQ(o.role, "b");
}

TEST_F(AllocatorTest, TooSmallResourcesAreNotOffered) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  ASSERT_TRUE(allocator.addAgent("tiny", R("cpus:0.005;mem:16;disk:100")));
  EXPECT_TRUE(allocator.allocate().empty());
  ASSERT_TRUE(allocator.addAgent("cpu-only", R("cpus:0.01")));
  EXPECT_EQ(allocator.allocate().size(), 1u);
}

TEST_F(AllocatorTest, InactiveFrameworksAndAgentsGetNothing) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(1);
  allocator.deactivateFramework("f1");
  EXPECT_TRUE(allocator.allocate().empty());
  allocator.activateFramework("f1");
  allocator.deactivateAgent("agent0");
  EXPECT_TRUE(allocator.allocate().empty());
  allocator.activateAgent("agent0");
  EXPECT_EQ(allocator.allocate().size(), 1u);
}

TEST_F(AllocatorTest, RemovingAFrameworkFreesItsResources) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(2);
  ASSERT_EQ(allocator.allocate().size(), 2u);
  ASSERT_TRUE(allocator.addFramework("f2", {"*"}));
  allocator.removeFramework("f1");
  auto counts = countByFramework(allocator.allocate());
  EXPECT_EQ(counts["f2"], 2);
  EXPECT_FALSE(allocator.hasFramework("f1"));
}

TEST_F(AllocatorTest, RemovingAnAgentShrinksTheTotal) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(2);
  ASSERT_EQ(allocator.allocate().size(), 2u);
  allocator.removeAgent("agent1");
  EXPECT_DOUBLE_EQ(allocator.frameworkShare("*", "f1"), 1.0);
  EXPECT_EQ(allocator.agentCount(), 1u);
  EXPECT_FALSE(allocator.addAgent("agent0", R("cpus:1")));  // duplicate id
}

TEST_F(AllocatorTest, ReregisteredAgentKeepsUsedResources) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  ASSERT_TRUE(allocator.addAgent("a", R("cpus:4;mem:1024"), {{"f1", {{"*", R("cpus:3;mem:512")}}}}));
  EXPECT_TRUE(allocator.available("a") == R("cpus:1;mem:512"));
  auto offers = allocator.allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_TRUE(offers[0].resources == R("cpus:1;mem:512"));
}

TEST_F(AllocatorTest, RecoveringMoreThanHeldIsClamped) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  addAgents(1, "cpus:2;mem:100");
  allocator.allocate();
  allocator.recoverResources("f1", "*", "agent0", R("cpus:5;mem:100;gpus:1"));
  EXPECT_TRUE(allocator.available("agent0") == R("cpus:2;mem:100"));
}

TEST_F(AllocatorTest, AddFrameworkErrors) {
  ASSERT_TRUE(allocator.addFramework("f1", {"*"}));
  EXPECT_FALSE(allocator.addFramework("f1", {"*"}));
  ASSERT_TRUE(allocator.addFramework("f2", {}));  // no roles: no offers
  addAgents(1);
  auto offers = allocator.allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].frameworkId, "f1");
}

TEST_F(AllocatorTest, CycleCostFollowsFreeAgents) {
  // 10,000 agents, 100 frameworks: the first cycle offers every agent; the
  // next one has nothing to walk.
  for (int f = 0; f < 100; ++f)
    ASSERT_TRUE(allocator.addFramework(fmt::format("f{}", f), {fmt::format("r{}", f % 10)}));
  addAgents(10000);
  auto start = std::chrono::steady_clock::now();
  auto offers = allocator.allocate();
  auto full = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(offers.size(), 10000u);
  auto counts = countByFramework(offers);
  for (const auto& [f, n] : counts) EXPECT_EQ(n, 100) << f;
  start = std::chrono::steady_clock::now();
  EXPECT_TRUE(allocator.allocate().empty());
  auto idle = std::chrono::steady_clock::now() - start;
  std::printf("allocation cycle 10000 agents x 100 frameworks: full %.1f ms, idle %.3f ms\n",
              std::chrono::duration<double, std::milli>(full).count(),
              std::chrono::duration<double, std::milli>(idle).count());
  EXPECT_LT(idle, 10ms);
}

TEST(OfferBook, OffersExpireAfterTheTimeout) {
  FakeClock clock;
  OfferBook book(clock, "m1", 30s);
  const auto& first = book.add(Allocation{"f1", "*", "a1", R("cpus:1")});
  EXPECT_EQ(first.id, "m1-O0");
  clock.advance(10s);
  book.add(Allocation{"f1", "*", "a2", R("cpus:1")});
  clock.advance(20s);
  auto expired = book.takeExpired();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, "m1-O0");
  EXPECT_EQ(book.size(), 1u);
  clock.advance(10s);
  EXPECT_EQ(book.takeExpired().size(), 1u);
  EXPECT_EQ(book.size(), 0u);
}

TEST(OfferBook, TakeIsOnce) {
  FakeClock clock;
  OfferBook book(clock, "m", std::nullopt);
  auto id = book.add(Allocation{"f1", "*", "a1", R("cpus:1")}).id;
  ASSERT_NE(book.find(id), nullptr);
  EXPECT_TRUE(book.take(id).has_value());
  EXPECT_FALSE(book.take(id).has_value());
  clock.advance(std::chrono::hours(1000));
  book.add(Allocation{"f1", "*", "a1", R("cpus:1")});
  EXPECT_TRUE(book.takeExpired().empty());  // no timeout configured
  auto taken = book.takeIf([](const OfferRecord& r) { return r.allocation.agentId == "a1"; });
  EXPECT_EQ(taken.size(), 1u);
}

TEST_F(AllocatorTest, RoleChangeKeepsTheOldRoleUntilItsResourcesComeBack) {
  ASSERT_TRUE(allocator.addFramework("f1", {"a"}));
  addAgents(2);
  auto first = allocator.allocate();
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(allocator.updateFramework("f1", {"b"}, {}));
  // Still holding role a's resources: role a keeps its share.
  EXPECT_GT(allocator.roleShare("a"), 0.0);
  allocator.recoverResources("f1", "a", "agent0", first[0].resources);
  auto second = allocator.allocate();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].role, "b");
  allocator.recoverResources("f1", "a", "agent1", first[1].resources);
  EXPECT_EQ(allocator.roleShare("a"), 0.0);
  EXPECT_FALSE(allocator.updateFramework("nope", {"b"}, {}));
  // Suppressed roles are set exactly, not added to.
  ASSERT_TRUE(allocator.updateFramework("f1", {"b"}, {"b"}));
  EXPECT_TRUE(allocator.allocate().empty());
  ASSERT_TRUE(allocator.updateFramework("f1", {"b"}, {}));
  EXPECT_EQ(allocator.allocate().size(), 1u);
}

TEST_F(AllocatorTest, FrameworkMinimumSkipsSmallAgentsForThatFrameworkOnly) {
  ASSERT_TRUE(allocator.addFramework("big", {"*"}));
  allocator.setMinAllocatable("big", {{"*", {R("cpus:8")}}});
  addAgents(1, "cpus:4;mem:4096");
  EXPECT_TRUE(allocator.allocate().empty());
  ASSERT_TRUE(allocator.addFramework("small", {"*"}));
  auto got = allocator.allocate();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].frameworkId, "small");
  addAgents(1, "cpus:8;mem:4096");
  got = allocator.allocate();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].frameworkId, "big");
}

}  // namespace
}  // namespace nucleo::master
