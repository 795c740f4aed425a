#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "images/blob_store.hpp"
#include "images/bundle.hpp"
#include "images/import.hpp"
#include "images/reference.hpp"
#include "images/store.hpp"
#include "images/tests/test_util.hpp"

namespace nucleo::images {
namespace {

using test::TarEntry;
constexpr const char* GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr const char* TAR = "application/vnd.oci.image.layer.v1.tar";

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = test::tempDir();
    auto s = ImageStore::open(base_ + "/store", UnpackOptions{false, false});
    ASSERT_TRUE(s);
    store_.emplace(std::move(*s));
  }
  void TearDown() override { (void)fs::removeAll(base_); }
  Digest layout(const std::string& dir, const std::string& tag = "1.0") {
    return test::writeLayout(dir, {{GZIP, test::makeTar({{"etc", AE_IFDIR, "", 0755},
                                                        {"etc/passwd", AE_IFREG, "root:x:0:0::/:/bin/sh\nuser:x:1000:100::/:/bin/sh\n"},
                                                        {"etc/group", AE_IFREG, "users:x:100:\nextra:x:2000:user\n"}}, "gzip")},
                                   {ZSTD, test::makeTar({{"bin/tool", AE_IFREG, "v2", 0755}}, "zstd")},
                                   {TAR, test::makeTar({{"bin/.wh.old", AE_IFREG, ""}})}},
                             tag);
  }
  size_t blobCount() { return store_->blobs().list()->size(); }

  std::string base_;
  std::optional<ImageStore> store_;
};

TEST_F(StoreTest, BlobIngestVerifiesDigestAndSize) {
  auto good = store_->blobs().ingestBytes("hello", {sha256Of("hello"), 5, "greeting"});
  ASSERT_TRUE(good);
  EXPECT_EQ(*store_->blobs().read(*good), "hello");
  auto bad = store_->blobs().ingestBytes("hellO", {sha256Of("hello"), 5, "greeting"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("greeting: digest mismatch"), std::string::npos) << bad.error().message;
  auto big = store_->blobs().ingestBytes("hello!", {{}, 5, "greeting"});
  ASSERT_FALSE(big);
  EXPECT_EQ(blobCount(), 1u) << "a failed ingest leaves nothing";
}

TEST_F(StoreTest, ImportLayoutDirUnpacksLayersAndTags) {
  Digest m = layout(base_ + "/layout");
  auto r = importImage(*store_, base_ + "/layout", "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->manifest, m);
  EXPECT_EQ(r->names, (std::vector<std::string>{"layout:1.0"}));
  auto image = store_->load(*store_->resolve("layout:1.0"));
  ASSERT_TRUE(image) << image.error().message;
  ASSERT_EQ(image->manifest.layers.size(), 3u);
  EXPECT_EQ(*fs::readFile(store_->layerDir(image->manifest.layers[1].digest) + "/bin/tool"), "v2");
  EXPECT_EQ(image->config.user, "user");
  EXPECT_EQ(store_->resolve(m.hex.substr(0, 8))->manifest, m);
  EXPECT_EQ(blobCount(), 5u) << "manifest, config, 3 layers; no index.json";
  EXPECT_FALSE(store_->resolve("other"));
}

TEST_F(StoreTest, ImportWithRefAndRemoveAndPrune) {
  layout(base_ + "/layout");
  ASSERT_TRUE(importImage(*store_, base_ + "/layout", "busybox"));
  EXPECT_TRUE(store_->resolve("busybox:latest"));
  ASSERT_TRUE(store_->remove("busybox"));
  EXPECT_FALSE(store_->resolve("busybox"));
  EXPECT_EQ(blobCount(), 0u);
  EXPECT_EQ(fs::readFile(store_->root() + "/images.json")->find("sha256"), std::string::npos);
  ASSERT_TRUE(importImage(*store_, base_ + "/layout", "a"));
  auto pruned = store_->prune();
  ASSERT_TRUE(pruned);
  EXPECT_TRUE(pruned->blobs.empty()) << "named images are kept";
}

TEST_F(StoreTest, CorruptLayerLeavesTheStoreAsItWas) {
  Digest m = layout(base_ + "/layout");
  auto manifest = parseManifest(*fs::readFile(base_ + "/layout/blobs/sha256/" + m.hex), "m");
  std::string layer = base_ + "/layout/blobs/sha256/" + manifest->layers[2].digest.hex;
  std::string bytes = *fs::readFile(layer);
  bytes[100] ^= 1;
  ASSERT_TRUE(fs::writeFileAtomic(layer, bytes));
  auto r = importImage(*store_, base_ + "/layout", "x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("layer 3 " + manifest->layers[2].digest.str()), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_EQ(blobCount(), 0u);
  EXPECT_TRUE(store_->list()->empty());
}

TEST_F(StoreTest, MissingBlobAndUnknownMediaTypeNameTheBlob) {
  test::writeLayout(base_ + "/l1", {{"application/x-unknown", "abc"}}, "t");
  auto r = importImage(*store_, base_ + "/l1", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown layer media type 'application/x-unknown'"), std::string::npos)
      << r.error().message;
  Digest m = layout(base_ + "/l2");
  auto manifest = parseManifest(*fs::readFile(base_ + "/l2/blobs/sha256/" + m.hex), "m");
  ::unlink((base_ + "/l2/blobs/sha256/" + manifest->config.digest.hex).c_str());
  r = importImage(*store_, base_ + "/l2", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(manifest->config.digest.str()), std::string::npos) << r.error().message;
  EXPECT_EQ(blobCount(), 0u);
}

TEST_F(StoreTest, ImportOciArchiveTar) {
  layout(base_ + "/layout");
  std::string tar = base_ + "/img.tar";
  ASSERT_EQ(std::system(("tar -C " + base_ + "/layout -cf " + tar + " .").c_str()), 0);
  auto r = importImage(*store_, tar, "fromtar:v1");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(blobCount(), 5u) << "index.json and oci-layout are not kept";
}

TEST_F(StoreTest, MaliciousLayerIsRejectedAndNothingKept) {
  test::writeLayout(base_ + "/evil", {{TAR, test::makeTar({{"../../outside", AE_IFREG, "x"}})}}, "t");
  auto r = importImage(*store_, base_ + "/evil", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("entry '../../outside'"), std::string::npos) << r.error().message;
  EXPECT_EQ(blobCount(), 0u);
  EXPECT_EQ(fs::readFile(store_->root() + "/images.json").has_value(), false);
}

TEST(Reference, ParsesAndNormalizes) {
  EXPECT_EQ(parseReference("busybox")->str(), "busybox:latest");
  EXPECT_EQ(parseReference("localhost:5000/a/b:1.2")->name, "localhost:5000/a/b");
  EXPECT_EQ(parseReference("localhost:5000/a/b:1.2")->tag, "1.2");
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(parseReference("x@" + d)->str(), "x@" + d);
  EXPECT_FALSE(parseReference("UPPER"));
  EXPECT_FALSE(parseReference("x:"));
  EXPECT_FALSE(parseReference("x@sha256:zz"));
}

TEST(Manifest, PlatformSelectionAndErrors) {
  std::string d = "sha256:" + std::string(64, 'a');
  std::string e = "sha256:" + std::string(64, 'b');
  auto index = parseIndex(R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d + R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + e + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})", "index");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(selectManifest(*index, {"linux", "amd64", ""}, "i")->digest.str(), e);
  EXPECT_FALSE(selectManifest(*index, {"linux", "s390x", ""}, "i"));
  auto bad = parseManifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"md5:1","size":1},"layers":[]})", "manifest m");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("manifest m: config.digest"), std::string::npos) << bad.error().message;
}

TEST(Bundle, ProcessFromConfigAsDockerDoes) {
  ImageConfig c;
  c.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
  c.cmd = std::vector<std::string>{"echo hi"};
  c.env = {"A=1", "PATH=/bin"};
  EXPECT_EQ(*processArgs(c, {}), (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(*processArgs(c, {"exit 3"}), (std::vector<std::string>{"/bin/sh", "-c", "exit 3"}));
  EXPECT_FALSE(processArgs(ImageConfig{}, {}));
  EXPECT_EQ(processEnv(c, {"A=2", "B=3"}), (std::vector<std::string>{"A=2", "PATH=/bin", "B=3"}));
}

TEST(Bundle, UserResolution) {
  std::string passwd = "root:x:0:0::/root:/bin/sh\nuser:x:1000:100::/home/user:/bin/sh\n";
  std::string group = "root:x:0:\nusers:x:100:\nextra:x:2000:user\nwheel:x:10:root,user\n";
  auto u = resolveUser("user", passwd, group);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 100u);
  EXPECT_EQ(u->additionalGids, (std::vector<uint32_t>{2000, 10}));
  u = resolveUser("user:extra", passwd, group);
  EXPECT_EQ(u->gid, 2000u);
  EXPECT_TRUE(u->additionalGids.empty());
  u = resolveUser("4242", passwd, group);
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(resolveUser("", passwd, group)->uid, 0u);
  EXPECT_EQ(resolveUser("1000:7", passwd, group)->gid, 7u);
  auto missing = resolveUser("nobody", passwd, group);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "user 'nobody': not found in /etc/passwd");
  EXPECT_FALSE(resolveUser("user:nogroup", passwd, group));
}

TEST(Bundle, ConfigJsonCarriesImageSettings) {
  ImageConfig c;
  c.cmd = std::vector<std::string>{"sh"};
  c.workingDir = "/srv";
  c.stopSignal = "SIGQUIT";
  c.labels = {{"k", "v"}};
  RunOverrides o;
  o.memoryBytes = 64 << 20;
  o.cpus = 0.5;
  auto json = bundleConfigJson(c, oci::User{1000, 100, {}, {}, "user"}, o);
  ASSERT_TRUE(json);
  auto spec = oci::parseSpec(*json);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process->cwd, "/srv");
  EXPECT_EQ(spec->process->user.uid, 1000u);
  EXPECT_EQ(spec->annotations["org.opencontainers.image.stopSignal"], "SIGQUIT");
  EXPECT_EQ(spec->annotations["k"], "v");
  EXPECT_EQ(*spec->linux.resources->memoryLimit, 64 << 20);
  EXPECT_EQ(*spec->linux.resources->cpuQuota, 50000);
  EXPECT_FALSE(spec->rootReadonly);
  EXPECT_EQ(*parseMemory("1g"), int64_t(1) << 30);
  EXPECT_FALSE(parseMemory("lots"));
}

// Mounts happen in a child with its own mount namespace: nothing leaks.
TEST_F(StoreTest, ROOT_OverlayRootfsSeesLayersAndWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mount, whiteouts)";
  auto rootStore = ImageStore::open(base_ + "/rootstore");
  ASSERT_TRUE(rootStore);
  std::vector<std::pair<std::string, std::string>> layers = {
      {TAR, test::makeTar({{"bin/old", AE_IFREG, "old"}, {"opt/a", AE_IFREG, "a"}})},
      {GZIP, test::makeTar({{"bin/.wh.old", AE_IFREG, ""}, {"opt/.wh..wh..opq", AE_IFREG, ""}, {"opt/b", AE_IFREG, "b"}}, "gzip")}};
  // More layers than one page of lowerdir= options holds (~70 bytes each).
  for (int i = 0; i < 70; ++i)
    layers.push_back({TAR, test::makeTar({{"l/" + std::to_string(i), AE_IFREG, std::to_string(i)}})});
  test::writeLayout(base_ + "/layout", layers, "t");
  ASSERT_TRUE(importImage(*rootStore, base_ + "/layout", "many"));
  auto image = rootStore->load(*rootStore->resolve("many"));
  ASSERT_TRUE(image);
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(10);
    std::string target = base_ + "/rootfs";
    (void)fs::makeDirs(target);
    if (!rootStore->mountRootfs(*image, "c1", target)) _exit(11);
    if (fs::exists(target + "/bin/old")) _exit(12);
    if (fs::exists(target + "/opt/a") || *fs::readFile(target + "/opt/b") != "b") _exit(13);
    if (*fs::readFile(target + "/l/69") != "69") _exit(14);
    if (!fs::writeFileAtomic(target + "/new", "x")) _exit(15);
    if (rootStore->remove("many")) _exit(16);  // in use: refused
    if (!rootStore->unmountRootfs("c1")) _exit(17);
    if (fs::exists(base_ + "/rootstore/containers/c1")) _exit(18);
    _exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child step failed (see exit code)";
  EXPECT_FALSE(fs::exists(store_->layerDir(image->manifest.layers[0].digest) + "/new"))
      << "writes go to the container's upper dir, never to a shared layer";
}

}  // namespace
}  // namespace nucleo::images
