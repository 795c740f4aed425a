// Registry pull against a tiny fake registry on loopback (plain POSIX
// sockets, one request per connection), so that every failure a real
// registry can produce is produced on purpose: Bearer challenges, redirects
// to blob storage, a connection closed mid-blob, a wrong blob, 500s.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "images/pull.hpp"
#include "images/registry.hpp"
#include "images/tests/test_util.hpp"

namespace nucleo::images {
namespace {

struct FakeRequest {
  std::string method, target;
  std::map<std::string, std::string> headers;  // names lowercase
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Send only this many body bytes (Content-Length still says all), then close.
  std::optional<size_t> cutAt;
};

class FakeRegistry {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;
  explicit FakeRegistry(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0) std::abort();
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRegistry() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> log() {
    std::lock_guard g(mu_);
    return log_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }
  void handle(int c) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (in[0] == 0x16) return;  // a TLS ClientHello: we speak plain HTTP only
    }
    FakeRequest req;
    auto lines = strings::split(in.substr(0, in.find("\r\n\r\n")), '\n');
    auto first = strings::split(lines[0], ' ');
    req.method = first[0];
    req.target = first[1];
    for (size_t i = 1; i < lines.size(); ++i) {
      auto colon = lines[i].find(':');
      std::string name = lines[i].substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[name] = std::string(strings::trim(lines[i].substr(colon + 1)));
    }
    {
      std::lock_guard g(mu_);
      log_.push_back(req.method + " " + req.target);
    }
    FakeResponse r = handler_(req);
    std::string out = fmt::format("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                                  r.status, r.body.size());
    for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
    out += "\r\n" + r.body.substr(0, r.cutAt.value_or(r.body.size()));
    for (size_t sent = 0; sent < out.size();) {
      ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

constexpr const char* TAR = "application/vnd.oci.image.layer.v1.tar";

// A two-layer image served from memory: /v2/test/manifests/latest and blobs.
struct FakeImage {
  std::map<std::string, std::string> blobs;  // digest -> bytes
  std::string manifest;
  Digest manifestDigest;
  std::vector<Digest> layers;

  explicit FakeImage(std::string layerType = TAR) {
    std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}})";
    Digest c = put(config);
    boost::json::array descs;
    for (int i = 0; i < 2; ++i) {
      std::string tar = test::makeTar({{"f" + std::to_string(i), AE_IFREG, std::string(100000, 'a' + i)}});
      layers.push_back(put(tar));
      descs.push_back({{"mediaType", layerType}, {"digest", layers.back().str()}, {"size", tar.size()}});
    }
    boost::json::object m{{"schemaVersion", 2}, {"mediaType", MEDIA_OCI_MANIFEST},
        {"config", {{"mediaType", MEDIA_OCI_CONFIG}, {"digest", c.str()}, {"size", config.size()}}},
        {"layers", descs}};
    manifest = boost::json::serialize(m);
    manifestDigest = sha256Of(manifest);
  }
  Digest put(const std::string& bytes) {
    Digest d = sha256Of(bytes);
    blobs[d.str()] = bytes;
    return d;
  }
  // Serves the image; nullopt for paths it does not know.
  std::optional<FakeResponse> serve(const FakeRequest& r) const {
    if (r.target == "/v2/test/manifests/latest" || r.target == "/v2/test/manifests/" + manifestDigest.str())
      return FakeResponse{200, {{"Content-Type", MEDIA_OCI_MANIFEST}}, manifest, {}};
    const std::string prefix = "/v2/test/blobs/";
    if (r.target.rfind(prefix, 0) == 0) {
      auto it = blobs.find(r.target.substr(prefix.size()));
      if (it != blobs.end()) return FakeResponse{200, {}, it->second, {}};
    }
    return std::nullopt;
  }
};

FakeResponse notFound() {
  return {404, {}, R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]})", {}};
}

class RegistryPull : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = test::tempDir();
    auto s = ImageStore::open(base_ + "/store", UnpackOptions{false, false});
    ASSERT_TRUE(s) << s.error().message;
    store_.emplace(std::move(*s));
  }
  void TearDown() override { (void)fs::removeAll(base_); }
  Result<PullResult> pull(const FakeRegistry& reg, const std::string& creds = "") {
    PullOptions o;
    o.credsFile = creds;
    return pullImage(*store_, reg.host() + "/test:latest", o);
  }
  // Nothing in the store but empty directories (and the lock file).
  void expectEmptyStore() {
    EXPECT_EQ(store_->list()->size(), 0u);
    EXPECT_EQ(store_->blobs().list()->size(), 0u) << "no blob kept";
    EXPECT_EQ(std::system(("test -z \"$(ls -A " + base_ + "/store/layers)\"").c_str()), 0) << "no layer kept";
  }
  std::string base_;
  std::optional<ImageStore> store_;
};

TEST(RegistryParse, UrlsChallengesCredentialsAndLocations) {
  auto u = parseUrl("https://Example.com:5000/v2/x?y=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "Example.com");
  EXPECT_EQ(u->port, "5000");
  EXPECT_EQ(u->target, "/v2/x?y=1");
  EXPECT_EQ(resolveUrl(*u, "/blob/1")->str(), "https://Example.com:5000/blob/1");
  EXPECT_EQ(resolveUrl(*u, "http://s3/a")->str(), "http://s3/a");
  EXPECT_FALSE(parseUrl("ftp://x/"));
  EXPECT_EQ(parseUrl("http://[::1]:80/")->authority(), "[::1]");

  auto c = parseChallenge(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c->params["scope"], "repository:library/busybox:pull");
  EXPECT_EQ(parseChallenge(R"(Basic realm="Registry Realm")")->scheme, "basic");

  EXPECT_EQ(base64Encode("user:pa ss"), "dXNlcjpwYSBzcw==");
  EXPECT_EQ(*base64Decode("dXNlcjpwYSBzcw=="), "user:pa ss");
  auto auths = parseAuthConfig(R"({"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYSBzcw=="},
      "127.0.0.1:5000":{"username":"u","password":"p"}}})", "creds");
  ASSERT_TRUE(auths) << auths.error().message;
  EXPECT_EQ(findCredentials(*auths, "docker.io")->password, "pa ss");
  EXPECT_EQ(findCredentials(*auths, "127.0.0.1:5000")->username, "u");
  EXPECT_FALSE(findCredentials(*auths, "quay.io"));
  auto bad = parseAuthConfig(R"({"auths":{"h":{"auth":"bm9jb2xvbg=="}}})", "creds.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("creds.json"), std::string::npos) << bad.error().message;

  EXPECT_EQ(locate(*parseReference("busybox")).repository, "library/busybox");
  EXPECT_EQ(locate(*parseReference("busybox")).host, "docker.io");
  EXPECT_EQ(locate(*parseReference("localhost:5000/a/b:1")).host, "localhost:5000");
  EXPECT_EQ(locate(*parseReference("localhost:5000/a/b:1")).repository, "a/b");
  EXPECT_EQ(locate(*parseReference("quay.io/x/y")).host, "quay.io");
  EXPECT_TRUE(isLoopbackHost("127.0.0.1:5000"));
  EXPECT_TRUE(isLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(isLoopbackHost("quay.io"));
}

// Docker Hub's flow: 401 with a Bearer challenge, a token from the realm
// (asked with the user's Basic credentials), then the blob behind a redirect
// to another host that must not see our token.
TEST_F(RegistryPull, BearerTokenAndRedirectToBlobStorage) {
  FakeImage image;
  std::atomic<bool> tokenLeaked{false};
  std::string host;
  FakeRegistry storage([&](const FakeRequest& r) {
    if (r.headers.count("authorization")) tokenLeaked = true;
    auto found = image.serve({r.method, "/v2/test/blobs/" + r.target.substr(1), {}});
    return found ? *found : notFound();
  });
  FakeRegistry reg([&](const FakeRequest& r) -> FakeResponse {
    if (r.target.rfind("/token?", 0) == 0) {
      if (r.header("authorization") != "Basic " + base64Encode("alice:secret")) return {401, {}, "", {}};
      EXPECT_NE(r.target.find("scope=repository%3Atest%3Apull"), std::string::npos) << r.target;
      return {200, {}, R"({"token":"T0K"})", {}};
    }
    if (r.header("authorization") != "Bearer T0K")
      return {401, {{"WWW-Authenticate", "Bearer realm=\"http://" + host + "/token\",service=\"fake\",scope=\"repository:test:pull\""}}, "", {}};
    if (r.target.find("/blobs/") != std::string::npos)
      return {307, {{"Location", "http://" + storage.host() + "/" + r.target.substr(r.target.rfind('/') + 1)}}, "", {}};
    auto found = image.serve(r);
    return found ? *found : notFound();
  });
  host = reg.host();
  auto noCreds = pull(reg);
  ASSERT_FALSE(noCreds);
  EXPECT_NE(noCreds.error().message.find("HTTP 401"), std::string::npos) << noCreds.error().message;
  expectEmptyStore();

  ASSERT_TRUE(fs::writeFileAtomic(base_ + "/auth.json", R"({"auths":{")" + host + R"(":{"auth":")" +
                                  base64Encode("alice:secret") + R"("}}})"));
  auto r = pull(reg, base_ + "/auth.json");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->manifest, image.manifestDigest);
  EXPECT_EQ(r->name, host + "/test:latest");
  EXPECT_FALSE(tokenLeaked) << "the registry's token went to the blob storage host";
  EXPECT_EQ(fs::readFile(store_->layerDir(image.layers[1]) + "/f1")->size(), 100000u);
  EXPECT_TRUE(store_->resolve(host + "/test"));

  // Everything present: the second pull fetches only the manifest.
  auto before = reg.log().size();
  auto again = pull(reg, base_ + "/auth.json");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->downloaded, 0u);
  for (size_t i = before; i < reg.log().size(); ++i)
    EXPECT_EQ(reg.log()[i].find("/blobs/"), std::string::npos) << reg.log()[i];
}

TEST_F(RegistryPull, ConnectionClosedMidBlobLeavesNothingAndNextPullSucceeds) {
  FakeImage image;
  std::atomic<bool> cut{true};
  FakeRegistry reg([&](const FakeRequest& r) {
    auto found = image.serve(r);
    if (!found) return notFound();
    if (cut && r.target.find(image.layers[1].hex) != std::string::npos) found->cutAt = 5000;
    return *found;
  });
  auto r = pull(reg);
  ASSERT_FALSE(r);
  const std::string& m = r.error().message;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_NE(m.find("pull '" + reg.host() + "/test:latest'"), std::string::npos) << m;
  EXPECT_NE(m.find("layer 2/2 " + image.layers[1].str()), std::string::npos) << m;
  EXPECT_NE(m.find("connection lost after 5000 bytes"), std::string::npos) << m;
  expectEmptyStore();
  cut = false;
  auto ok = pull(reg);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(store_->list()->size(), 1u);
}

TEST_F(RegistryPull, WrongBlobBytesAreADigestMismatch) {
  FakeImage image;
  FakeRegistry reg([&](const FakeRequest& r) {
    auto found = image.serve(r);
    if (!found) return notFound();
    if (r.target.find(image.layers[0].hex) != std::string::npos) found->body[100] ^= 1;
    return *found;
  });
  auto r = pull(reg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("layer 1/2 " + image.layers[0].str() + ": digest mismatch"), std::string::npos)
      << r.error().message;
  expectEmptyStore();
}

TEST_F(RegistryPull, ServerErrorsAndUnknownMediaTypes) {
  FakeImage image;
  FakeRegistry broken([&](const FakeRequest& r) {
    if (r.target.find("/blobs/") != std::string::npos)
      return FakeResponse{500, {}, R"({"errors":[{"code":"UNKNOWN","message":"disk on fire"}]})", {}};
    return *image.serve(r);
  });
  auto r = pull(broken);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("config "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("HTTP 500 UNKNOWN: disk on fire"), std::string::npos) << r.error().message;
  expectEmptyStore();

  FakeImage odd("application/x-fancy-layer");
  FakeRegistry strange([&](const FakeRequest& r) {
    auto found = odd.serve(r);
    return found ? *found : notFound();
  });
  auto s = pull(strange);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("layer 1/2 " + odd.layers[0].str() + ": unknown layer media type 'application/x-fancy-layer'"),
            std::string::npos) << s.error().message;
  for (const auto& line : strange.log()) EXPECT_EQ(line.find("/blobs/"), std::string::npos) << "fetched " << line;
  expectEmptyStore();

  FakeRegistry missing([&](const FakeRequest&) { return notFound(); });
  auto m = pull(missing);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("HTTP 404 NAME_UNKNOWN"), std::string::npos) << m.error().message;
}

// Two pulls of one image at once: each layer is fetched once (the other pull
// waits on the blob's lock and finds it there).
TEST_F(RegistryPull, ConcurrentPullsFetchEachBlobOnce) {
  FakeImage image;
  FakeRegistry reg([&](const FakeRequest& r) {
    auto found = image.serve(r);
    if (found && r.target.find("/blobs/") != std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return found ? *found : notFound();
  });
  std::vector<std::thread> threads;
  std::atomic<int> succeeded{0};
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&] {
      auto s = ImageStore::open(base_ + "/store", UnpackOptions{false, false});
      PullOptions o;
      if (s && pullImage(*s, reg.host() + "/test:latest", o)) ++succeeded;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(succeeded, 3);
  int blobGets = 0;
  for (const auto& line : reg.log()) blobGets += line.find("/blobs/") != std::string::npos;
  EXPECT_EQ(blobGets, 3) << "config and two layers, each once";
  EXPECT_EQ(store_->list()->size(), 1u);
}

}  // namespace
}  // namespace nucleo::images
