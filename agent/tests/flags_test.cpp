#include "agent/flags.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

namespace nucleo::agent {
namespace {

Result<AgentOptions> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "nucleo-agent");
  return parseFlags(static_cast<int>(args.size()), args.data());
}

TEST(FlagsTest, Defaults) {
  auto o = parse({"--master", "10.0.0.1:5050"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->masterHost, "10.0.0.1");
  EXPECT_EQ(o->masterPort, 5050);
  EXPECT_EQ(o->ip, "127.0.0.1");
  EXPECT_EQ(o->port, 5051);
  EXPECT_EQ(o->workDir, "/var/lib/nucleo-agent");
  EXPECT_EQ(o->hostname, "127.0.0.1");
  EXPECT_EQ(o->executorRegistrationTimeout, std::chrono::minutes(1));
  EXPECT_FALSE(o->recoverCleanup);
  EXPECT_TRUE(o->runtime.ends_with("/nucleo"));
  EXPECT_EQ(o->imageRoot, "/var/lib/nucleo-agent/images");
  // With no flags at all it joins a master on this machine.
  ::unsetenv("NUCLEO_MASTER");
  auto bare = parse({});
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(bare->masterHost, "127.0.0.1");
  EXPECT_EQ(bare->masterPort, 5050);
}

TEST(FlagsTest, CredentialFileInJsonOrText) {
  char json[] = "/tmp/nucleo-credential-XXXXXX";
  int fd = ::mkstemp(json);
  ASSERT_GE(fd, 0);
  std::string body = R"({"principal": "agent1", "secret": "s3cret"})";
  ASSERT_EQ(::write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  ::close(fd);
  auto o = parse({"--credential", json});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->principal, "agent1");
  EXPECT_EQ(o->secret, "s3cret");
  FILE* text = std::fopen(json, "w");
  std::fputs("agent2 other\n", text);
  std::fclose(text);
  o = parse({"--credential", json});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->principal, "agent2");
  EXPECT_EQ(o->secret, "other");
  text = std::fopen(json, "w");
  std::fputs("{}", text);
  std::fclose(text);
  o = parse({"--credential", json});
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message.find("--credential"), std::string::npos) << o.error().message;
  ::unlink(json);
}

TEST(FlagsTest, MesosUnderscoreSpellings) {
  auto o = parse({"--master=m:1", "--work_dir=/w", "--executor_registration_timeout=2mins",
                  "--recover=cleanup", "--resources=cpus:2", "--port", "0",
                  "--status_update_retry_min=100ms"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->workDir, "/w");
  EXPECT_EQ(o->executorRegistrationTimeout, std::chrono::minutes(2));
  EXPECT_TRUE(o->recoverCleanup);
  EXPECT_EQ(o->resources, "cpus:2");
  EXPECT_EQ(o->port, 0);
  EXPECT_EQ(o->statusUpdateRetryMin, std::chrono::milliseconds(100));
}

TEST(FlagsTest, BadValuesNameTheFlag) {
  auto a = parse({"--master", "nohost"});
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("--master"), std::string::npos);
  auto b = parse({"--master", "m:1", "--executor-registration-timeout", "5 parsecs"});
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("--executor-registration-timeout"), std::string::npos);
  EXPECT_FALSE(parse({"--master", "m:1", "--recover", "maybe"}));
  EXPECT_FALSE(parse({"--master", "m:70000"}));
  EXPECT_FALSE(parse({"--master", "m:1", "--work-dir", "relative"}));
}

TEST(FlagsTest, Durations) {
  EXPECT_EQ(*parseDuration("1mins"), std::chrono::minutes(1));
  EXPECT_EQ(*parseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*parseDuration("2"), std::chrono::seconds(2));
  EXPECT_EQ(*parseDuration("1.5secs"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("s"));
}

}  // namespace
}  // namespace nucleo::agent
