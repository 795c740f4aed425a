// ContainerInfo.network_infos to the runtime's network mode and ports, and the
// check of port mappings against the task's ports resources.
#include <gtest/gtest.h>

#include "agent/containers/spec_builder.hpp"
#include "agent/containers/task_network.hpp"

namespace nucleo::agent {
namespace {

mesos::v1::ContainerInfo withNetwork(const std::string& name, std::vector<std::pair<int, int>> ports = {}) {
  mesos::v1::ContainerInfo c;
  c.set_type(mesos::v1::ContainerInfo::MESOS);
  auto* info = c.add_network_infos();
  info->set_name(name);
  for (auto [h, p] : ports) {
    auto* pm = info->add_port_mappings();
    pm->set_host_port(h);
    pm->set_container_port(p);
  }
  return c;
}

mesos::v1::Resource portsResource(int begin, int end) {
  mesos::v1::Resource r;
  r.set_name("ports");
  r.set_type(mesos::v1::Value::RANGES);
  auto* range = r.mutable_ranges()->add_range();
  range->set_begin(begin);
  range->set_end(end);
  return r;
}

TEST(TaskNetwork, NamesChooseTheMode) {
  EXPECT_EQ(taskNetwork(std::nullopt, "nucleo0")->mode, "");
  EXPECT_EQ(taskNetwork(mesos::v1::ContainerInfo(), "nucleo0")->mode, "") << "no network_infos: the host's";
  EXPECT_EQ(taskNetwork(withNetwork("none"), "nucleo0")->mode, "none");
  EXPECT_EQ(taskNetwork(withNetwork("bridge"), "nucleo0")->mode, "bridge");
  EXPECT_EQ(taskNetwork(withNetwork("br9"), "br9")->mode, "bridge") << "the bridge's own name";
  EXPECT_EQ(taskNetwork(withNetwork("cni:mynet"), "nucleo0")->mode, "cni:mynet");
  EXPECT_EQ(taskNetwork(withNetwork("mynet"), "nucleo0")->mode, "cni:mynet") << "other names are CNI lists";
}

TEST(TaskNetwork, PortMappingsBecomePublishedPorts) {
  auto c = withNetwork("bridge", {{31000, 80}});
  c.mutable_network_infos(0)->add_port_mappings()->set_host_port(31001);
  c.mutable_network_infos(0)->mutable_port_mappings(1)->set_container_port(53);
  c.mutable_network_infos(0)->mutable_port_mappings(1)->set_protocol("UDP");
  auto net = taskNetwork(c, "nucleo0");
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_EQ(net->publish, (std::vector<std::string>{"31000:80/tcp", "31001:53/udp"}));
}

TEST(TaskNetwork, BadInputIsAnErrorNamingIt) {
  auto two = withNetwork("bridge");
  two.add_network_infos()->set_name("other");
  EXPECT_NE(taskNetwork(two, "nucleo0").error().message.find("2 networks"), std::string::npos);
  EXPECT_NE(taskNetwork(withNetwork(""), "nucleo0").error().message.find("name: empty"), std::string::npos);
  EXPECT_NE(taskNetwork(withNetwork("none", {{31000, 80}}), "nucleo0").error().message.find("'none'"),
            std::string::npos);
  auto sctp = withNetwork("bridge", {{31000, 80}});
  sctp.mutable_network_infos(0)->mutable_port_mappings(0)->set_protocol("sctp");
  EXPECT_NE(taskNetwork(sctp, "nucleo0").error().message.find("'sctp'"), std::string::npos);
}

TEST(TaskNetwork, HostPortsMustBeInThePortsResources) {
  auto c = withNetwork("bridge", {{31000, 80}, {31005, 81}});
  EXPECT_TRUE(validatePortMappings(c, {portsResource(31000, 31005)}));
  auto err = validatePortMappings(c, {portsResource(31000, 31004)});
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("host_port 31005"), std::string::npos) << err.error().message;
  EXPECT_FALSE(validatePortMappings(c, {})) << "no ports resources at all";
}

TEST(TaskNetwork, SpecGetsItsOwnNetworkNamespaceAndAnnotations) {
  ContainerLaunch l;
  l.containerId = "c1";
  l.sandbox = "/tmp/sb";
  l.command.set_value("true");
  SpecContext ctx;
  ctx.rootfs = "/tmp/rootfs";
  ctx.cgroupsPath = "/nucleo-agent/c1";
  auto host = buildConfigJson(l, ctx);
  ASSERT_TRUE(host) << host.error().message;
  EXPECT_EQ(host->find("\"network\""), std::string::npos) << "the host's network: no namespace";
  ctx.networkMode = "bridge";
  ctx.publish = {"31000:80/tcp", "31001:53/udp"};
  auto bridged = buildConfigJson(l, ctx);
  ASSERT_TRUE(bridged) << bridged.error().message;
  EXPECT_NE(bridged->find("\"type\": \"network\""), std::string::npos) << *bridged;
  EXPECT_NE(bridged->find("\"org.nucleo.network\": \"bridge\""), std::string::npos) << *bridged;
  EXPECT_NE(bridged->find("\"org.nucleo.network.ports\": \"31000:80/tcp,31001:53/udp\""), std::string::npos);
}

}  // namespace
}  // namespace nucleo::agent
