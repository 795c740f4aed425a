// DRF sorter tests in the spirit of Mesos's sorter_tests.cpp.

#include <gtest/gtest.h>

#include "master/allocator/sorter.hpp"

namespace nucleo::master {
namespace {

Quantities R(const char* text) { return Resources::parse(text)->quantities(); }

std::vector<std::string> order(DrfSorter& sorter) {
  std::vector<std::string> out;
  sorter.visit([&](const std::string& c) {
    out.push_back(c);
    return false;
  });
  return out;
}

TEST(DrfSorter, DominantShareOrders) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:100;mem:100"));
  sorter.add("a");
  sorter.add("b");
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"a", "b"}));  // tie: name

  sorter.allocated("a", R("cpus:5;mem:5"));
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"b", "a"}));

  sorter.allocated("b", R("cpus:1;mem:10"));  // dominant: mem 10%
  EXPECT_DOUBLE_EQ(sorter.share("b"), 0.10);
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"a", "b"}));

  sorter.add("c");
  sorter.allocated("c", R("cpus:7"));
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"a", "c", "b"}));

  sorter.unallocated("b", R("mem:6"));  // b: max(1%, 4%)
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"b", "a", "c"}));
}

TEST(DrfSorter, WeightsDivideShares) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:100"));
  sorter.add("light");
  sorter.add("heavy");
  sorter.setWeight("heavy", 3);
  sorter.allocated("light", R("cpus:10"));
  sorter.allocated("heavy", R("cpus:27"));
  EXPECT_DOUBLE_EQ(sorter.share("heavy"), 0.09);
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"heavy", "light"}));
}

TEST(DrfSorter, TieBreaksOnFewerAllocations) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:10"));
  sorter.add("a");
  sorter.add("b");
  sorter.allocated("a", R("cpus:1"));
  sorter.unallocated("a", R("cpus:1"));  // share 0 but one allocation
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"b", "a"}));
}

TEST(DrfSorter, PortsCountTowardShare) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:10;ports:[1-100]"));
  sorter.add("a");
  sorter.add("b");
  sorter.allocated("a", R("cpus:1"));             // 10%
  sorter.allocated("b", R("ports:[1-20]"));       // 20%
  EXPECT_DOUBLE_EQ(sorter.share("b"), 0.2);
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"a", "b"}));
}

TEST(DrfSorter, TotalChangeResorts) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:10;mem:10"));
  sorter.add("cpu-heavy");
  sorter.add("mem-heavy");
  sorter.allocated("cpu-heavy", R("cpus:5"));  // 50%
  sorter.allocated("mem-heavy", R("mem:4"));   // 40%
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"mem-heavy", "cpu-heavy"}));
  sorter.setTotal(R("cpus:100;mem:10"));       // cpu-heavy now 5%
  EXPECT_EQ(order(sorter), (std::vector<std::string>{"cpu-heavy", "mem-heavy"}));
}

TEST(DrfSorter, RemoveForgets) {
  DrfSorter sorter;
  sorter.setTotal(R("cpus:10"));
  sorter.add("a");
  sorter.allocated("a", R("cpus:5"));
  sorter.remove("a");
  EXPECT_TRUE(sorter.empty());
  sorter.add("a");
  EXPECT_DOUBLE_EQ(sorter.share("a"), 0);
  EXPECT_TRUE(sorter.allocation("a").empty());
}

}  // namespace
}  // namespace nucleo::master
