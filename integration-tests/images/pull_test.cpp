// `nucleo image pull` and `run --image` against a real registry on loopback:
// Debian's docker-registry started by the test (config written here, stopped
// by pid), the build-made busybox image pushed into it with skopeo.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "base/fs.hpp"

namespace {

struct Output {
  int code;
  std::string out;
};

Output sh(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepting(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A docker-registry child: filesystem storage under `dir`, optional htpasswd
// auth, access log in dir/log (one line per request).
class Registry {
 public:
  Registry(const std::string& dir, bool auth, bool tls = false) : dir_(dir), port_(freePort()) {
    std::string config = "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
                         "storage:\n  filesystem:\n    rootdirectory: " + dir + "/data\n"
                         "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
    if (auth) {
      sh("htpasswd -cbB " + dir + "/htpasswd alice secret");
      config += "auth:\n  htpasswd:\n    realm: test\n    path: " + dir + "/htpasswd\n";
    }
    if (tls) config += "  tls:\n    certificate: " + dir + "/server.pem\n    key: " + dir + "/server.key\n";
    (void)nucleo::fs::writeFileAtomic(dir + "/config.yml", config);
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* log = std::freopen((dir + "/log").c_str(), "w", stdout);
      ::dup2(::fileno(log), STDERR_FILENO);
      ::execl("/usr/bin/docker-registry", "docker-registry", "serve", (dir + "/config.yml").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !accepting(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Registry() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // GET requests for blobs the registry answered, from its access log.
  int blobGets() const {
    return std::stoi(sh("grep -c 'GET /v2/[^ ]*/blobs/' " + dir_ + "/log || true").out);
  }

 private:
  std::string dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

class PullCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !nucleo::fs::exists("/usr/bin/docker-registry") || !nucleo::fs::exists("/usr/bin/skopeo"))
      return;
    char tmpl[] = "/tmp/nucleo-pull-it-XXXXXX";
    shared_ = ::mkdtemp(tmpl);
    registry_ = new Registry(shared_, false);
    push("busybox:latest", "");
    pushed_ = digestOf(registry_->host() + "/busybox:latest");
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
    if (!shared_.empty()) (void)nucleo::fs::removeAll(shared_);
  }
  static Output push(const std::string& name, const std::string& flags,
                     const std::string& source = "oci:" + std::string(NUCLEO_TEST_IMAGES) + "/busybox-oci:latest",
                     const Registry* to = nullptr) {
    return sh("skopeo copy --quiet --dest-tls-verify=false " + flags + " " + source + " docker://" +
              (to ? to : registry_)->host() + "/" + name);
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (layer owners, overlay mounts, containers)";
    if (!nucleo::fs::exists("/usr/bin/docker-registry")) GTEST_SKIP() << "docker-registry is not installed (scripts/install-deps)";
    if (!nucleo::fs::exists("/usr/bin/skopeo")) GTEST_SKIP() << "skopeo is not installed (scripts/install-deps)";
    char tmpl[] = "/tmp/nucleo-pull-store-XXXXXX";
    store_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!store_.empty()) (void)nucleo::fs::removeAll(store_);
  }
  Output nucleo(const std::string& args) {
    if (args.rfind("RUN ", 0) == 0)
      return sh(std::string(NUCLEO_BIN) + " run --image-store " + store_ + " " + args.substr(4));
    return sh(std::string(NUCLEO_BIN) + " image --store " + store_ + " " + args);
  }
  // skopeo compresses the plain-tar layer on its way to a registry, so the
  // pushed manifest is not the layout's: ask the registry what it holds.
  static std::string digestOf(const std::string& image, const std::string& flags = "") {
    return sh("skopeo inspect --tls-verify=false " + flags + " --format '{{.Digest}}' docker://" + image).out.substr(0, 71);
  }
  std::string manifestOfTestImage() { return pushed_; }
  static inline std::string shared_;
  static inline Registry* registry_ = nullptr;
  static inline std::string pushed_;
  std::string store_;
};

TEST_F(PullCli, PullByTagAndByDigestThenRun) {
  std::string ref = registry_->host() + "/busybox";
  auto pulled = nucleo("pull " + ref);
  ASSERT_EQ(pulled.code, 0) << pulled.out;
  EXPECT_EQ(pulled.out, manifestOfTestImage() + "\n") << "the registry serves the pushed manifest unchanged";
  EXPECT_NE(nucleo("ls").out.find(ref + "   latest"), std::string::npos) << nucleo("ls").out;
  auto byDigest = nucleo("pull " + ref + "@" + manifestOfTestImage());
  ASSERT_EQ(byDigest.code, 0) << byDigest.out;
  EXPECT_EQ(byDigest.out, pulled.out);
  auto run = nucleo("RUN --pull never --image " + ref + " -- sh -c 'cat /opt/new; test -e /etc/motd || echo motd-gone'");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(run.out, "new\nmotd-gone\n");
}

TEST_F(PullCli, RunImagePullsWhenMissingUnlessToldNever) {
  std::string ref = registry_->host() + "/busybox:latest";
  auto never = nucleo("RUN --pull never --image " + ref + " -- true");
  EXPECT_EQ(never.code, 1);
  EXPECT_EQ(never.out, "nucleo: image '" + ref + "' not found\n");
  auto run = nucleo("RUN --image " + ref + " -- echo pulled-and-ran");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(run.out, "pulled-and-ran\n");
  EXPECT_EQ(nucleo("ls -q").out.size(), 13u) << "one image in the store";
}

TEST_F(PullCli, MissingTagIs404AndStoreStaysEmpty) {
  auto r = nucleo("pull " + registry_->host() + "/busybox:nope");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << r.out;
  EXPECT_NE(r.out.find("pull '" + registry_->host() + "/busybox:nope'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 404 MANIFEST_UNKNOWN"), std::string::npos) << r.out;
  EXPECT_EQ(nucleo("ls -q").out, "");
}

// An OCI image index with an arm64 image listed first: the host's (amd64 on
// this machine's test image) is the one pulled.
TEST_F(PullCli, MultiPlatformIndexYieldsTheHostPlatform) {
  std::string dir = store_ + "-multi";
  std::string script = R"SH(set -e
d=)SH" + dir + R"SH(; cp -r )SH" + NUCLEO_TEST_IMAGES + R"SH(/busybox-oci $d; b=$d/blobs/sha256
put() { s=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" $b/$s; echo "sha256:$s $(stat -c %s "$1")"; }
m=$(grep -o 'sha256:[0-9a-f]*' $d/index.json | head -1); ms=$(stat -c %s $b/${m#sha256:})
c=$(grep -o '"config":{[^}]*}' $b/${m#sha256:} | grep -o 'sha256:[0-9a-f]*')
sed 's/"amd64"/"arm64"/' $b/${c#sha256:} > $d/armconfig
set -- $(put $d/armconfig); ac=$1; acs=$2
sed "s/${c}\",\"size\":[0-9]*/${ac}\",\"size\":${acs}/" $b/${m#sha256:} > $d/armmanifest
set -- $(put $d/armmanifest); am=$1; ams=$2
M=application/vnd.oci.image.manifest.v1+json
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"arm64"}},{"mediaType":"%s","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"amd64"}}]}' $M $am $ams $M $m $ms > $d/index
set -- $(put $d/index); i=$1; is=$2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' $i $is > $d/index.json
echo $am)SH";
  auto made = sh(script);
  ASSERT_EQ(made.code, 0) << made.out;
  auto pushed = push("busybox:multi", "--all", "oci:" + dir + ":multi");
  ASSERT_EQ(pushed.code, 0) << pushed.out;
  auto r = nucleo("pull " + registry_->host() + "/busybox:multi");
  ASSERT_EQ(r.code, 0) << r.out;
  auto raw = sh("skopeo inspect --raw --tls-verify=false docker://" + registry_->host() + "/busybox:multi").out;
  EXPECT_NE(raw.find(r.out.substr(0, 71)), std::string::npos) << "one of the index's images: " << raw;
  EXPECT_NE(nucleo("inspect " + registry_->host() + "/busybox:multi").out.find("\"Architecture\": \"amd64\""),
            std::string::npos);
  (void)nucleo::fs::removeAll(dir);
}

TEST_F(PullCli, BasicAuthNeedsCredentials) {
  std::string dir = store_ + "-auth";
  ASSERT_TRUE(nucleo::fs::makeDirs(dir));
  Registry secured(dir, true);
  auto pushed = push("private/busybox:latest", "--dest-creds alice:secret", "oci:" + std::string(NUCLEO_TEST_IMAGES) + "/busybox-oci:latest", &secured);
  ASSERT_EQ(pushed.code, 0) << pushed.out;
  std::string ref = secured.host() + "/private/busybox";
  auto denied = nucleo("pull " + ref);
  EXPECT_EQ(denied.code, 1);
  EXPECT_NE(denied.out.find("authentication required and no credentials for it (use --creds FILE)"), std::string::npos) << denied.out;
  ASSERT_TRUE(nucleo::fs::writeFileAtomic(dir + "/wrong.json", R"({"auths":{")" + secured.host() + R"(":{"username":"alice","password":"nope"}}})"));
  auto wrong = nucleo("pull --creds " + dir + "/wrong.json " + ref);
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.out.find("refused the credentials"), std::string::npos) << wrong.out;
  // "auth" is base64("alice:secret"), as `docker login` writes it.
  ASSERT_TRUE(nucleo::fs::writeFileAtomic(dir + "/auth.json", R"({"auths":{"http://)" + secured.host() + R"(":{"auth":"YWxpY2U6c2VjcmV0"}}})"));
  auto ok = nucleo("pull --creds " + dir + "/auth.json " + ref);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out, digestOf(secured.host() + "/private/busybox:latest", "--creds alice:secret") + "\n");
  secured.stop();
  (void)nucleo::fs::removeAll(dir);
}

// A registry with a certificate from its own CA: refused until that CA is
// trusted ($SSL_CERT_FILE), or with --insecure; never silently downgraded.
TEST_F(PullCli, HttpsVerifiesTheRegistryCertificate) {
  std::string dir = store_ + "-tls";
  ASSERT_TRUE(nucleo::fs::makeDirs(dir));
  auto certs = sh("cd " + dir + R"SH( && set -e && exec 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=nucleo-test-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\n' > ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext)SH");
  ASSERT_EQ(certs.code, 0) << certs.out;
  Registry secure(dir, false, true);
  auto pushed = push("busybox:latest", "", "oci:" + std::string(NUCLEO_TEST_IMAGES) + "/busybox-oci:latest", &secure);
  ASSERT_EQ(pushed.code, 0) << pushed.out;
  std::string ref = secure.host() + "/busybox";
  auto untrusted = nucleo("pull " + ref);
  EXPECT_EQ(untrusted.code, 1);
  EXPECT_NE(untrusted.out.find("GET https://" + secure.host() + "/v2/busybox/manifests/latest: TLS handshake: certificate verify failed"),
            std::string::npos) << untrusted.out;
  EXPECT_EQ(nucleo("ls -q").out, "");
  auto trusted = sh("SSL_CERT_FILE=" + dir + "/ca.pem " + NUCLEO_BIN + " image --store " + store_ + " pull " + ref);
  EXPECT_EQ(trusted.code, 0) << trusted.out;
  EXPECT_EQ(nucleo("rm " + ref).code, 0);
  auto insecure = nucleo("pull --insecure " + ref);
  EXPECT_EQ(insecure.code, 0) << insecure.out;
  EXPECT_EQ(insecure.out, trusted.out);
  secure.stop();
  (void)nucleo::fs::removeAll(dir);
}

TEST_F(PullCli, ConcurrentPullsFetchEachLayerOnce) {
  int before = registry_->blobGets();
  std::string ref = registry_->host() + "/busybox:latest";
  std::string cmd;
  for (int i = 0; i < 4; ++i)
    cmd += std::string(NUCLEO_BIN) + " image --store " + store_ + " pull " + ref + " > " + store_ + "-out" + std::to_string(i) + " 2>&1 & ";
  auto r = sh(cmd + "wait; cat " + store_ + "-out*; rm -f " + store_ + "-out*");
  std::string expected;
  for (int i = 0; i < 4; ++i) expected += manifestOfTestImage() + "\n";
  EXPECT_EQ(r.out, expected) << "every pull succeeds";
  EXPECT_EQ(registry_->blobGets() - before, 4) << "config and three layers, each fetched once";
  EXPECT_EQ(sh("ls " + store_ + "/layers | wc -l").out, "3\n");
}

TEST_F(PullCli, RegistryDownLeavesTheStoreAsItWas) {
  std::string dir = store_ + "-down";
  ASSERT_TRUE(nucleo::fs::makeDirs(dir));
  std::string host;
  {
    Registry gone(dir, false);
    host = gone.host();
  }
  auto r = nucleo("pull " + host + "/busybox");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("pull '" + host + "/busybox': GET http://" + host + "/v2/busybox/manifests/latest: connect: Connection refused"),
            std::string::npos) << r.out;
  EXPECT_EQ(sh("find " + store_ + "/blobs/sha256 " + store_ + "/layers -mindepth 1").out, "");
  (void)nucleo::fs::removeAll(dir);
}

}  // namespace
