#include "containerizer/container_network.hpp"

#include <gtest/gtest.h>

namespace nucleo::containerizer {
namespace {

oci::Spec specWith(std::vector<oci::Namespace> namespaces) {
  oci::Spec spec;
  spec.linux.namespaces = std::move(namespaces);
  return spec;
}

TEST(ContainerNetwork, NewNamespaceWithoutFlagsGetsNoneOrTheAnnotation) {
  NetworkOptions options;
  auto plain = networkRequest(options, specWith({{"network", ""}}), "/run/nucleo/c");
  ASSERT_TRUE(plain && *plain);
  EXPECT_EQ((*plain)->mode, network::Mode::None);
  EXPECT_EQ((*plain)->owner, "/run/nucleo/c");

  auto spec = specWith({{"network", ""}});
  spec.annotations["org.nucleo.network"] = "bridge";
  spec.annotations["org.nucleo.network.ports"] = "8080:80,53:53/udp";
  options.bridge.name = "br-test";
  auto annotated = networkRequest(options, spec, "");
  ASSERT_TRUE(annotated && *annotated) << annotated.error().message;
  EXPECT_EQ((*annotated)->mode, network::Mode::Bridge);
  EXPECT_EQ((*annotated)->bridge.name, "br-test");
  ASSERT_EQ((*annotated)->ports.size(), 2u);
  EXPECT_EQ((*annotated)->ports[1], (network::PortMapping{53, 53, "udp"}));
}

TEST(ContainerNetwork, HostOrJoinedNamespacesAreLeftAlone) {
  NetworkOptions options;
  auto host = networkRequest(options, specWith({{"pid", ""}}), "");
  ASSERT_TRUE(host);
  EXPECT_FALSE(*host);
  auto joined = networkRequest(options, specWith({{"network", "/run/netns/x"}}), "");
  ASSERT_TRUE(joined);
  EXPECT_FALSE(*joined);
}

TEST(ContainerNetwork, FlagsThatCannotApplyAreClearErrors) {
  NetworkOptions options;
  options.mode = "bridge";
  auto noNs = networkRequest(options, specWith({}), "");
  ASSERT_FALSE(noNs);
  EXPECT_EQ(noNs.error().message,
            "--network bridge: config.json has no network namespace (linux.namespaces)");
  options.mode = "host";
  auto hostWithNs = networkRequest(options, specWith({{"network", ""}}), "");
  ASSERT_FALSE(hostWithNs);
  options.mode = "none";
  options.publish = {"8080:80"};
  auto noneWithPorts = validateNetworkOptions(options);
  ASSERT_FALSE(noneWithPorts);
  EXPECT_NE(noneWithPorts.error().message.find("only with --network bridge"), std::string::npos);
  options.mode = "bridge";
  options.publish = {"8080:80", "8080:81"};
  auto twice = validateNetworkOptions(options);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "port 8080/tcp is published twice");
  options.publish.clear();
  options.ip = "10.0.0.300";
  EXPECT_FALSE(validateNetworkOptions(options));
}

}  // namespace
}  // namespace nucleo::containerizer
