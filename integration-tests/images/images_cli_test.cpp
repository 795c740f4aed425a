// `nucleo image` and `nucleo run --image` driven as a user would, against a
// fresh store per test, with the build-made busybox images.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/fs.hpp"

namespace {

struct Output {
  int code;
  std::string out;
};

class ImageCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (layer owners, overlay mounts, containers)";
    char tmpl[] = "/tmp/nucleo-image-it-XXXXXX";
    store_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!store_.empty()) (void)nucleo::fs::removeAll(store_);
  }
  Output nucleo(const std::string& args) {
    std::string cmd = std::string(NUCLEO_BIN) + " image --store " + store_ + " " + args + " 2>&1";
    if (args.rfind("RUN ", 0) == 0)
      cmd = std::string(NUCLEO_BIN) + " run --image-store " + store_ + " " + args.substr(4) + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  }
  std::string images(const std::string& name) { return std::string(NUCLEO_TEST_IMAGES) + "/" + name; }
  std::string store_;
};

TEST_F(ImageCli, ImportAllFormatsListInspect) {
  EXPECT_EQ(nucleo("import " + images("busybox-oci")).code, 0);
  EXPECT_EQ(nucleo("import " + images("busybox-oci.tar") + " tar:v1").code, 0);
  auto docker = nucleo("import " + images("busybox-docker.tar"));
  EXPECT_EQ(docker.code, 0) << docker.out;
  auto ls = nucleo("ls");
  EXPECT_NE(ls.out.find("busybox-oci "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("busybox-docker"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("tar "), std::string::npos) << ls.out;
  auto inspect = nucleo("inspect busybox-oci");
  EXPECT_NE(inspect.out.find("\"StopSignal\": \"SIGQUIT\""), std::string::npos) << inspect.out;
}

TEST_F(ImageCli, RunImageHonoursConfigWhiteoutsAndOverrides) {
  ASSERT_EQ(nucleo("import " + images("busybox-oci") + " busybox").code, 0);
  auto run = nucleo("RUN --image busybox -e X=y -- sh -c 'pwd; echo $IMAGE_VAR $X; ls /opt; test -e /etc/motd || echo motd-gone; echo hi > /f; exit 3'");
  EXPECT_EQ(run.code, 3) << run.out;
  EXPECT_EQ(run.out, "/home/user\nfrom-image y\nnew\nmotd-gone\n");
  auto second = nucleo("RUN --image busybox --rm -- sh -c 'test -e /f && echo leaked || echo clean'");
  EXPECT_EQ(second.out, "clean\n") << "each container gets its own upper directory";
  EXPECT_TRUE(nucleo::fs::exists(store_ + "/containers"));
  auto rmInUse = nucleo("rm busybox");
  EXPECT_EQ(rmInUse.code, 0) << "nothing uses it after the runs: " << rmInUse.out;
}

// A blob the store already holds is never read again from the source, so the
// corrupt layout goes into an empty store.
TEST_F(ImageCli, BadInputLeavesTheStoreAsItWas) {
  std::string bad = store_ + "-bad";
  ASSERT_EQ(std::system(("cp -r " + images("busybox-oci") + " " + bad).c_str()), 0);
  ASSERT_EQ(std::system(("for f in " + bad + "/blobs/sha256/*; do [ $(stat -c %s $f) -gt 100000 ] && printf x >> $f; done; true").c_str()), 0);
  auto r = nucleo("import " + bad + " bad");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("layer 1 sha256:"), std::string::npos) << r.out;
  EXPECT_EQ(nucleo("ls -q").out, "") << "nothing kept";
  EXPECT_EQ(std::system(("test -z \"$(find " + store_ + "/blobs/sha256 " + store_ + "/layers -mindepth 1)\"").c_str()), 0);
  EXPECT_EQ(nucleo("import " + images("busybox-oci") + " good").code, 0);
  (void)nucleo::fs::removeAll(bad);
  EXPECT_EQ(nucleo("inspect missing").out, "nucleo: image 'missing' not found\n");
}

}  // namespace
