#include "agent/fetcher/fetcher.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <functional>
#include <cstdio>
#include <set>
#include <thread>

#include "agent/fetcher/cache.hpp"
#include "agent/fetcher/tests/archive_maker.hpp"
#include "agent/fetcher/tests/test_http_server.hpp"
#include "base/fs.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::CommandInfo;
using nucleo::testing::makeArchive;
using nucleo::testing::TestHttpServer;
using nucleo::testing::TestResponse;
using namespace std::chrono_literals;

std::set<std::string> listDir(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

CommandInfo::URI uri(const std::string& value, bool cache = false) {
  CommandInfo::URI u;
  u.set_value(value);
  u.set_cache(cache);
  return u;
}

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fetcher_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sandbox_ = dir_ + "/sandbox";
    ASSERT_TRUE(fs::makeDirs(sandbox_));
    options_.cacheDir = dir_ + "/cache";
  }
  void TearDown() override { (void)fs::removeAll(dir_); }
  Status fetch(const std::vector<CommandInfo::URI>& uris, const std::string& sandbox = "") {
    return Fetcher(options_).fetch(uris, sandbox.empty() ? sandbox_ : sandbox);
  }
  std::string read(const std::string& name) {
    auto r = fs::readFile(sandbox_ + "/" + name);
    return r ? *r : "<missing>";
  }
  mode_t mode(const std::string& name) {
    struct stat st;
    return ::stat((sandbox_ + "/" + name).c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  }
  std::set<std::string> cacheEntries() {
    std::set<std::string> out;
    for (const auto& n : listDir(options_.cacheDir))
      if (n.size() == 64) out.insert(n);
    return out;
  }

  std::string dir_, sandbox_;
  FetcherOptions options_;
  TestHttpServer server_;
};

TEST_F(FetcherTest, LocalPathsAndFileUris) {
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/tool.sh", "#!/bin/sh\n", 0600));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/data.txt", "data"));
  auto exe = uri(dir_ + "/tool.sh");
  exe.set_executable(true);
  auto named = uri("file://" + dir_ + "/data.txt");
  named.set_output_file("conf/app/settings.txt");
  auto s = fetch({exe, uri("file://" + dir_ + "/data.txt"), named});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(read("tool.sh"), "#!/bin/sh\n");
  EXPECT_EQ(mode("tool.sh"), 0755u);
  EXPECT_EQ(read("data.txt"), "data");
  EXPECT_EQ(mode("data.txt"), 0644u);
  EXPECT_EQ(read("conf/app/settings.txt"), "data");
  EXPECT_EQ(listDir(sandbox_), (std::set<std::string>{"tool.sh", "data.txt", "conf"}));
}

TEST_F(FetcherTest, BadUrisAndOutputFilesAreRefused) {
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/data.txt", "data"));
  auto up = uri(dir_ + "/data.txt");
  up.set_output_file("../escaped");
  auto abs = uri(dir_ + "/data.txt");
  abs.set_output_file("/etc/evil");
  ASSERT_EQ(::symlink(dir_.c_str(), (sandbox_ + "/out").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0644), 0);
  auto viaLink = uri(dir_ + "/data.txt");
  viaLink.set_output_file("out/evil");
  struct Case {
    CommandInfo::URI uri;
    std::string expect;
  } cases[] = {
      {up, "'..' refused"},
      {abs, "absolute paths are refused"},
      {viaLink, "symlink or not a directory"},
      {uri("ftp://example.com/x.tar"), "unsupported scheme"},
      {uri("relative/x"), "not an absolute path"},
      {uri(dir_ + "/missing.txt"), dir_ + "/missing.txt"},
      {uri(dir_), "not a regular file"},
      {uri(dir_ + "/fifo"), "not a regular file"},  // and no hang
      {uri(server_.url("/")), "set output_file"},
  };
  for (const auto& c : cases) {
    auto s = fetch({c.uri});
    ASSERT_FALSE(s) << c.uri.value();
    EXPECT_NE(s.error().message.find("fetch '" + c.uri.value() + "'"), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find(c.expect), std::string::npos) << s.error().message;
  }
  EXPECT_EQ(listDir(sandbox_), std::set<std::string>{"out"});
  EXPECT_FALSE(fs::exists(dir_ + "/escaped"));
  EXPECT_FALSE(fs::exists(dir_ + "/evil"));
}

TEST_F(FetcherTest, HttpDownloadsFollowRedirectsAndReportStatus) {
  server_.route("/files/app.bin?token=abc", {200, "payload", {}, {}, false});
  server_.route("/r1", {302, "", {{"Location", "/r2"}}, {}, false});
  server_.route("/r2", {301, "", {{"Location", server_.url("/files/app.bin?x=1")}}, {}, false});
  server_.route("/files/app.bin?x=1", {200, "redirected", {}, {}, false});
  server_.route("/loop", {302, "", {{"Location", "/loop"}}, {}, false});
  auto redirected = uri(server_.url("/r1"));
  redirected.set_output_file("via-redirect");
  auto s = fetch({uri(server_.url("/files/app.bin?token=abc#frag")), redirected});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(read("app.bin"), "payload");
  EXPECT_EQ(read("via-redirect"), "redirected");

  s = fetch({uri(server_.url("/nothing-here.tar.gz"))});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("fetch '" + server_.url("/nothing-here.tar.gz") + "'"),
            std::string::npos);
  EXPECT_NE(s.error().message.find("HTTP 404"), std::string::npos) << s.error().message;
  s = fetch({uri(server_.url("/loop"))});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("more than 5 redirects"), std::string::npos) << s.error().message;
  EXPECT_EQ(server_.hits("/loop"), 6);
  EXPECT_EQ(listDir(sandbox_), (std::set<std::string>{"app.bin", "via-redirect"}));
}

TEST_F(FetcherTest, SlowAndBrokenServersLeaveNoPartialFile) {
  server_.route("/slow", {200, "late", {}, 5s, false});
  server_.route("/cut", {200, std::string(100000, 'x'), {}, {}, true});
  options_.timeout = 1s;
  auto start = std::chrono::steady_clock::now();
  auto s = fetch({uri(server_.url("/slow"))});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("timed out after 1s"), std::string::npos) << s.error().message;
  EXPECT_LT(took, 3s);
  s = fetch({uri(server_.url("/cut"))});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find(server_.url("/cut")), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("connection lost after 100000 bytes"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(listDir(sandbox_), std::set<std::string>{});
  // Nothing listens here any more: a connection error, named.
  int port;
  {
    TestHttpServer gone;
    port = gone.port();
  }
  s = fetch({uri("http://127.0.0.1:" + std::to_string(port) + "/x")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("connect"), std::string::npos) << s.error().message;
  s = fetch({uri("http://no-such-host.invalid/x")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("resolve 'no-such-host.invalid'"), std::string::npos)
      << s.error().message;
}

TEST_F(FetcherTest, ArchivesAreExtractedAndKept) {
  std::string tgz = makeArchive("tgz", {{"app/run", "run it", 'f', 0755}, {"app/conf", "c"}});
  server_.route("/app.tgz", {200, tgz, {}, {}, false});
  server_.route("/plain.zip", {200, makeArchive("zip", {{"z.txt", "zipped"}}), {}, {}, false});
  auto noExtract = uri(server_.url("/plain.zip"));
  noExtract.set_extract(false);
  auto s = fetch({uri(server_.url("/app.tgz")), noExtract});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(read("app/run"), "run it");
  EXPECT_EQ(mode("app/run"), 0755u);
  EXPECT_EQ(read("app.tgz"), tgz);
  EXPECT_EQ(listDir(sandbox_), (std::set<std::string>{"app", "app.tgz", "plain.zip"}));

  auto executable = uri(server_.url("/plain.zip"));
  executable.set_executable(true);
  executable.set_output_file("bin/tool.zip");
  ASSERT_TRUE(fetch({executable}));
  EXPECT_EQ(mode("bin/tool.zip"), 0755u);
  EXPECT_EQ(listDir(sandbox_ + "/bin"), std::set<std::string>{"tool.zip"});
}

TEST_F(FetcherTest, PlainGzipIsDecompressedBeside) {
  std::string gz = makeArchive("gz", {{"notes.txt", "hello notes"}});
  server_.route("/notes.txt.gz", {200, gz, {}, {}, false});
  server_.route("/fake.gz", {200, "not gzip at all", {}, {}, false});
  ASSERT_TRUE(fetch({uri(server_.url("/notes.txt.gz"))}));
  EXPECT_EQ(read("notes.txt"), "hello notes");
  EXPECT_EQ(read("notes.txt.gz"), gz);
  auto s = fetch({uri(server_.url("/fake.gz"))});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("gunzip 'fake.gz'"), std::string::npos) << s.error().message;
  EXPECT_EQ(listDir(sandbox_), (std::set<std::string>{"notes.txt", "notes.txt.gz"}));
}

TEST_F(FetcherTest, CredentialsGoAsBasicAuthAndStayOutOfErrors) {
  server_.route("/private.txt", {200, "secret data", {}, {}, false});
  std::string authority = "127.0.0.1:" + std::to_string(server_.port());
  ASSERT_TRUE(fetch({uri("http://alice:s%40cret@" + authority + "/private.txt")}));
  EXPECT_EQ(read("private.txt"), "secret data");
  // base64("alice:s@cret")
  EXPECT_NE(server_.lastRequest("/private.txt").find("Authorization: Basic YWxpY2U6c0BjcmV0"),
            std::string::npos)
      << server_.lastRequest("/private.txt");
  auto s = fetch({uri("http://alice:s%40cret@" + authority + "/missing.txt")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("fetch 'http://alice:***@" + authority + "/missing.txt'"),
            std::string::npos)
      << s.error().message;
  EXPECT_EQ(s.error().message.find("cret"), std::string::npos) << s.error().message;
  EXPECT_EQ(redactUri("https://bob@h/x"), "https://bob@h/x");
  EXPECT_EQ(redactUri("/local/path"), "/local/path");
}

TEST_F(FetcherTest, LargeDownloadAndCacheCopy) {
  constexpr size_t SIZE = 32 << 20;
  server_.route("/large.bin", {200, std::string(SIZE, 'L'), {}, {}, false});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(fetch({uri(server_.url("/large.bin"), false)}));
  auto plain = std::chrono::steady_clock::now() - start;
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(fetch({uri(server_.url("/large.bin"), true)}));
  auto download = std::chrono::steady_clock::now() - start;
  std::string other = dir_ + "/other";
  ASSERT_TRUE(fs::makeDirs(other));
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(fetch({uri(server_.url("/large.bin"), true)}, other));
  auto hit = std::chrono::steady_clock::now() - start;
  struct stat st;
  ASSERT_EQ(::stat((other + "/large.bin").c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), SIZE);
  EXPECT_EQ(server_.hits("/large.bin"), 2);
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf("32 MiB: download %ld ms, into cache and sandbox %ld ms, cache hit copy %ld ms\n",
              static_cast<long>(ms(plain)), static_cast<long>(ms(download)), static_cast<long>(ms(hit)));
}

TEST_F(FetcherTest, SizeLimitIsNamed) {
  options_.maxBytes = 1000;
  server_.route("/big", {200, std::string(5000, 'b'), {}, {}, false});
  server_.route("/small", {200, std::string(1000, 's'), {}, {}, false});
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/big.local", std::string(1001, 'l')));
  for (const auto& u : {server_.url("/big"), dir_ + "/big.local"}) {
    auto s = fetch({uri(u)});
    ASSERT_FALSE(s) << u;
    EXPECT_NE(s.error().message.find("fetch '" + u + "': larger than the limit of 1000 bytes"),
              std::string::npos)
        << s.error().message;
  }
  EXPECT_EQ(listDir(sandbox_), std::set<std::string>{});
  EXPECT_TRUE(fetch({uri(server_.url("/small"))}));
}

TEST_F(FetcherTest, TarWithDotDotIsRefused) {
  server_.route("/evil.tar", {200, makeArchive("tar", {{"ok", "ok"}, {"../../evil", "x"}}), {}, {}, false});
  auto s = fetch({uri(server_.url("/evil.tar"))});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("fetch '" + server_.url("/evil.tar") + "'"), std::string::npos);
  EXPECT_NE(s.error().message.find("entry '../../evil': '..' refused"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(listDir(sandbox_), std::set<std::string>{});
  EXPECT_FALSE(fs::exists(dir_ + "/evil"));
}

TEST_F(FetcherTest, CacheServesRepeatFetches) {
  server_.route("/cached.bin", {200, "cached", {}, {}, false});
  std::string other = dir_ + "/other";
  ASSERT_TRUE(fs::makeDirs(other));
  ASSERT_TRUE(fetch({uri(server_.url("/cached.bin"), true)}));
  ASSERT_TRUE(fetch({uri(server_.url("/cached.bin"), true)}, other));
  EXPECT_EQ(server_.hits("/cached.bin"), 1);
  EXPECT_EQ(read("cached.bin"), "cached");
  EXPECT_EQ(fs::readFile(other + "/cached.bin").value(), "cached");
  EXPECT_EQ(cacheEntries(), std::set<std::string>{fetcher::FetchCache::entryName(server_.url("/cached.bin"))});
  // Not cacheable: every fetch downloads.
  ASSERT_TRUE(fetch({uri(server_.url("/cached.bin"), false)}));
  EXPECT_EQ(server_.hits("/cached.bin"), 2);
  // A failed download is not cached.
  ASSERT_FALSE(fetch({uri(server_.url("/missing.bin"), true)}));
  ASSERT_FALSE(fetch({uri(server_.url("/missing.bin"), true)}));
  EXPECT_EQ(server_.hits("/missing.bin"), 2);
  EXPECT_EQ(cacheEntries().size(), 1u);
}

TEST_F(FetcherTest, ConcurrentFetchesOfOneUriDownloadOnce) {
  server_.route("/big.bin", {200, std::string(1 << 20, 'b'), {}, 300ms, false});
  constexpr int N = 4;
  std::vector<std::thread> threads;
  std::vector<Status> results(N);
  for (int i = 0; i < N; ++i) {
    std::string sandbox = dir_ + "/s" + std::to_string(i);
    ASSERT_TRUE(fs::makeDirs(sandbox));
    threads.emplace_back([&, i, sandbox] {
      results[i] = Fetcher(options_).fetch({uri(server_.url("/big.bin"), true)}, sandbox);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < N; ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().message;
    auto content = fs::readFile(dir_ + "/s" + std::to_string(i) + "/big.bin");
    ASSERT_TRUE(content);
    EXPECT_EQ(content->size(), 1u << 20);
  }
  EXPECT_EQ(server_.hits("/big.bin"), 1);
}

TEST_F(FetcherTest, CacheEvictsLeastRecentlyUsed) {
  for (const char* name : {"/a", "/b", "/c", "/huge"})
    server_.route(name, {200, std::string(name == std::string("/huge") ? 5000 : 1000, 'x'), {}, {}, false});
  options_.cacheMaxBytes = 2500;
  auto fetchNamed = [&](const char* path) {
    auto u = uri(server_.url(path), true);
    u.set_output_file(std::string("f") + (path + 1));
    ASSERT_TRUE(fetch({u}));
    std::this_thread::sleep_for(20ms);  // distinct mtimes on coarse clocks
  };
  fetchNamed("/a");
  fetchNamed("/b");
  fetchNamed("/a");  // a hit: b is now the oldest
  fetchNamed("/c");  // 3000 > 2500: b goes
  EXPECT_EQ(server_.hits("/a"), 1);
  auto entries = cacheEntries();
  EXPECT_EQ(entries.size(), 2u);
  EXPECT_FALSE(entries.count(fetcher::FetchCache::entryName(server_.url("/b"))));
  fetchNamed("/b");
  EXPECT_EQ(server_.hits("/b"), 2);
  // A dead process's temp file is cleared by the next eviction.
  std::string stale = options_.cacheDir + "/" + std::string(64, 'a') + ".tmp-999999999-0";
  ASSERT_TRUE(fs::writeFileAtomic(stale, "partial"));
  fetchNamed("/huge");  // bigger than the whole cache: served, not kept
  EXPECT_EQ(read("fhuge").size(), 5000u);
  EXPECT_FALSE(cacheEntries().count(fetcher::FetchCache::entryName(server_.url("/huge"))));
  fetchNamed("/c");  // a hit: eviction runs only after a download
  fetchNamed("/a");
  EXPECT_FALSE(fs::exists(stale));
  // Lock files go with their entries (evicted, or too big to keep).
  for (const auto& n : listDir(options_.cacheDir))
    if (n.size() == 69) {
      EXPECT_TRUE(cacheEntries().count(n.substr(0, 64))) << n;
    }
}

class FetcherTlsTest : public FetcherTest {
 protected:
  void SetUp() override {
    FetcherTest::SetUp();
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                      key_ + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl cannot make a test certificate";
    ASSERT_TRUE(tls_.enableTls(cert_, key_));
    tls_.route("/secure.txt", {200, "over tls", {}, {}, false});
  }
  std::string cert_, key_;
  TestHttpServer tls_;
};

TEST_F(FetcherTlsTest, VerifiesAgainstTheGivenCa) {
  options_.caFile = cert_;
  auto s = fetch({uri(tls_.url("/secure.txt", "localhost"))});
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(read("secure.txt"), "over tls");

  options_.caFile.clear();  // the system's store does not know this certificate
  auto other = dir_ + "/other";
  ASSERT_TRUE(fs::makeDirs(other));
  s = fetch({uri(tls_.url("/secure.txt", "localhost"))}, other);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("TLS handshake"), std::string::npos) << s.error().message;
  EXPECT_EQ(listDir(other), std::set<std::string>{});
}

}  // namespace
}  // namespace nucleo::agent

namespace nucleo::agent {
namespace {

// Runs `body` in a child with its own mount namespace (so the tmpfs it
// mounts vanishes with it); returns the child's message, "" on success.
std::string inMountNamespace(const std::function<std::string()>& body) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string message = "unshare/mount failed";
    if (::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
      message = body();
    (void)!::write(pipefd[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

TEST_F(FetcherTest, ROOT_DiskFullIsNamedAndLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts a small tmpfs in a mount namespace)";
  server_.route("/big.bin", {200, std::string(1 << 20, 'x'), {}, {}, false});
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/big.local", std::string(1 << 20, 'y')));
  std::string small = dir_ + "/small";
  ASSERT_TRUE(fs::makeDirs(small));
  std::string message = inMountNamespace([&]() -> std::string {
    if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=256k") != 0) return "mount tmpfs failed";
    for (const auto& u : {server_.url("/big.bin"), dir_ + "/big.local"}) {
      auto s = Fetcher(options_).fetch({uri(u)}, small);
      if (s) return "fetch of " + u + " into a 256k tmpfs succeeded";
      if (s.error().message.find("fetch '" + u + "'") == std::string::npos ||
          s.error().message.find("No space left on device") == std::string::npos)
        return "unexpected error: " + s.error().message;
      if (!listDir(small).empty()) return "left behind: " + *listDir(small).begin();
    }
    return "";
  });
  EXPECT_EQ(message, "");
}

}  // namespace
}  // namespace nucleo::agent

namespace nucleo::agent {
namespace {

TEST_F(FetcherTest, ROOT_LocalPathsAreReadAsTheTasksUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/secret", "root only", 0600));
  ASSERT_TRUE(fs::writeFileAtomic(dir_ + "/public", "for all", 0644));
  FetchUser nobody{65534, 65534, {}};
  Fetcher fetcher(options_);
  auto s = fetcher.fetch({uri(dir_ + "/secret")}, sandbox_, nobody);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("as uid 65534: Permission denied"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(listDir(sandbox_), std::set<std::string>{});
  ASSERT_TRUE(fetcher.fetch({uri(dir_ + "/public", true)}, sandbox_, nobody));
  EXPECT_EQ(read("public"), "for all");
  // The agent's own rights without a user (a task with no user).
  ASSERT_TRUE(fetcher.fetch({uri(dir_ + "/secret")}, sandbox_));
  EXPECT_EQ(read("secret"), "root only");
  // Cached per user: root's cached copy of the secret is not nobody's.
  ASSERT_TRUE(fetcher.fetch({uri(dir_ + "/secret", true)}, sandbox_));
  std::string other = dir_ + "/other";
  ASSERT_TRUE(fs::makeDirs(other));
  EXPECT_FALSE(fetcher.fetch({uri(dir_ + "/secret", true)}, other, nobody));
  EXPECT_EQ(listDir(other), std::set<std::string>{});
}

}  // namespace
}  // namespace nucleo::agent
