#include "agent/fetcher/fetcher.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "agent/fetcher/archive.hpp"
#include "agent/fetcher/cache.hpp"
#include "base/logging.hpp"
#include "base/unique_fd.hpp"
#include "images/http_client.hpp"
#include "images/layer_unpack.hpp"

namespace nucleo::agent {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int MAX_REDIRECTS = 5;

bool hasPrefixNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// The "user:password" of "scheme://user:password@host/...", or "".
std::string userInfo(const std::string& uri) {
  auto start = uri.find("://");
  if (start == std::string::npos) return "";
  start += 3;
  auto end = uri.find_first_of("/?#", start);
  auto authority = uri.substr(start, end == std::string::npos ? std::string::npos : end - start);
  auto at = authority.rfind('@');
  return at == std::string::npos ? "" : authority.substr(0, at);
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Source {
  bool http = false;
  std::string location;  // URL, or absolute local path
};

Result<Source> classify(const std::string& value) {
  if (hasPrefixNoCase(value, "http://") || hasPrefixNoCase(value, "https://"))
    return Source{true, value};
  std::string path = hasPrefixNoCase(value, "file://") ? value.substr(7) : value;
  if (!path.empty() && path.front() == '/') return Source{false, path};
  if (value.find("://") != std::string::npos)
    return Error::make("unsupported scheme (http, https, file:// or an absolute path)");
  return Error::make("not an absolute path (relative URIs are not supported)");
}

// The file's name in the sandbox: output_file, else the URI's last path
// component (query and fragment dropped), as Mesos names it.
Result<std::vector<std::string>> destination(const mesos::v1::CommandInfo::URI& uri,
                                             const Source& source) {
  std::string name = uri.output_file();
  if (name.empty()) {
    std::string path = source.location;
    if (source.http) {
      auto start = path.find('/', path.find("://") + 3);
      path = start == std::string::npos ? "" : path.substr(start);
      path = path.substr(0, path.find_first_of("?#"));
    }
    auto slash = path.rfind('/');
    name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (name.empty() || name == "." || name == "..")
      return Error::make("the URI names no file: set output_file");
  } else if (name.front() == '/') {
    return Error::make("output_file '{}': absolute paths are refused", name);
  }
  auto parts = images::splitEntryName(name);
  if (!parts) return std::move(parts).error().context("output_file '{}'", name);
  if (parts->empty()) return Error::make("output_file '{}': names no file", name);
  return parts;
}

Status writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("write");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return ok();
}

Status timedOut(std::chrono::seconds timeout) {
  return Error{ETIMEDOUT, fmt::format("timed out after {}s", timeout.count())};
}

Status tooLarge(uint64_t limit) {
  return Error{EFBIG, fmt::format("larger than the limit of {} bytes", limit)};
}

Status copyFd(int from, int to, Clock::time_point deadline, std::chrono::seconds timeout) {
  std::vector<char> buffer(1 << 17);
  for (;;) {
    if (Clock::now() > deadline) return timedOut(timeout);
    ssize_t n = ::read(from, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("read");
    if (n == 0) return ok();
    TRY(writeAll(to, buffer.data(), static_cast<size_t>(n)));
  }
}

// Opens `path` in a child that switched to `user` first, so the kernel
// checks that user's rights on every component; the fd comes back over a
// socket. The child makes raw syscalls only (it is forked from a
// multithreaded agent).
Result<UniqueFd> openAsUser(const std::string& path, const FetchUser& user) {
  TRY_ASSIGN(auto sockets, makeSocketPair(SOCK_SEQPACKET));
  pid_t pid = ::fork();
  if (pid < 0) return Error::fromErrno("fork");
  if (pid == 0) {
    int err = 0, fd = -1;
    if (::syscall(SYS_setgroups, user.groups.size(), user.groups.data()) != 0 ||
        ::syscall(SYS_setresgid, user.gid, user.gid, user.gid) != 0 ||
        ::syscall(SYS_setresuid, user.uid, user.uid, user.uid) != 0)
      err = errno;
    else if ((fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0)
      err = errno;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&err, sizeof(err)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ::sendmsg(sockets.second.get(), &msg, MSG_NOSIGNAL);
    ::_exit(0);
  }
  sockets.second.reset();
  int err = EIO;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&err, sizeof(err)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(sockets.first.get(), &msg, MSG_CMSG_CLOEXEC);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (c && c->cmsg_type == SCM_RIGHTS) {
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return UniqueFd(fd);
  }
  return Error::fromErrno(fmt::format("open '{}' as uid {}", path, user.uid), n > 0 ? err : EIO);
}

struct TempFile {
  int dirfd;
  std::string name;
  bool keep = false;
  ~TempFile() {
    if (!keep) ::unlinkat(dirfd, name.c_str(), 0);
  }
};

}  // namespace

std::string redactUri(const std::string& uri) {
  std::string info = userInfo(uri);
  auto colon = info.find(':');
  if (colon == std::string::npos) return uri;
  auto start = uri.find("://") + 3;
  return uri.substr(0, start) + info.substr(0, colon) + ":***" + uri.substr(start + info.size());
}

Fetcher::Fetcher(FetcherOptions options) : options_(std::move(options)) {}

Status Fetcher::download(const std::string& location, bool http, int fd,
                         std::chrono::steady_clock::time_point deadline,
                         const std::optional<FetchUser>& user) const {
  if (!http) {
    // O_NONBLOCK: a FIFO named by the URI must not hang the fetch.
    TRY_ASSIGN(UniqueFd in, user ? openAsUser(location, *user)
                                 : UniqueFd::open(location, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    struct stat st;
    if (::fstat(in.get(), &st) != 0) return Error::fromErrno(fmt::format("stat '{}'", location));
    if (!S_ISREG(st.st_mode)) return Error::make("'{}' is not a regular file", location);
    if (options_.maxBytes > 0 && static_cast<uint64_t>(st.st_size) > options_.maxBytes)
      return tooLarge(options_.maxBytes);
    return copyFd(in.get(), fd, deadline, options_.timeout);
  }
  // A fragment is the client's business, never sent.
  TRY_ASSIGN(images::Url url, images::parseUrl(location.substr(0, location.find('#'))));
  // Credentials in the URI go as Basic auth, and only to the host they name
  // (curl's rule on redirects).
  const images::Url origin = url;
  std::string credentials = userInfo(location);
  for (int hop = 0; hop <= MAX_REDIRECTS; ++hop) {
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) return Error::fromErrno("truncate");
    auto left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0) return timedOut(options_.timeout);
    images::HttpClientOptions clientOptions;
    clientOptions.caFile = options_.caFile;
    clientOptions.timeoutSeconds = std::max(1, static_cast<int>(std::ceil(left)));
    auto client = images::makeHttpClient(clientOptions);
    images::HttpRequest request;
    request.url = url;
    if (!credentials.empty() && url.host == origin.host && url.port == origin.port)
      request.headers.emplace_back("Authorization",
                                   "Basic " + images::base64Encode(percentDecode(credentials)));
    uint64_t received = 0;
    auto sink = [&](const char* data, size_t size) -> Status {
      if (Clock::now() > deadline) return timedOut(options_.timeout);
      received += size;
      if (options_.maxBytes > 0 && received > options_.maxBytes) return tooLarge(options_.maxBytes);
      return writeAll(fd, data, size);
    };
    auto response = client->send(request, sink);
    if (!response) {
      if (Clock::now() >= deadline && response.error().code != ETIMEDOUT)
        return std::move(response).error().context("timed out after {}s", options_.timeout.count());
      return std::move(response).error();
    }
    int status = response->status;
    if (status == 200) return ok();
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      std::string location = response->header("location");
      if (location.empty()) return Error::make("HTTP {} from {} without Location", status, url.str());
      TRY_ASSIGN(url, images::resolveUrl(url, location));
      continue;
    }
    return Error::make("HTTP {} from {}", status, url.str());
  }
  return Error::make("more than {} redirects", MAX_REDIRECTS);
}

// Extracts an archive or gunzips a plain .gz beside it (both kept, unlike
// Mesos's gunzip); on failure the fetched file goes too.
static Status unpack(int dirfd, const std::string& name) {
  bool archive = fetcher::isArchive(name);
  if (!archive && !fetcher::isPlainGzip(name)) return ok();
  UniqueFd in(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return Error::fromErrno(fmt::format("open '{}'", name));
  Status done;
  if (archive) {
    auto stats = fetcher::extractArchive(in.get(), dirfd);
    if (stats)
      logging::get("agent.fetcher")->debug("extracted name={} entries={} bytes={}", name,
                                           stats->entries, stats->bytes);
    else
      done = std::move(stats).error().context("extract '{}'", name);
  } else {
    done = fetcher::gunzipTo(in.get(), dirfd, name.substr(0, name.size() - 3))
               .context("gunzip '{}'", name);
  }
  if (!done) ::unlinkat(dirfd, name.c_str(), 0);
  return done;
}

Status Fetcher::fetchOne(const mesos::v1::CommandInfo::URI& uri, int sandboxFd,
                         const std::optional<FetchUser>& user) const {
  auto deadline = Clock::now() + options_.timeout;
  TRY_ASSIGN(Source source, classify(uri.value()));
  TRY_ASSIGN(auto parts, destination(uri, source));
  std::string name = parts.back();
  parts.pop_back();
  TRY_ASSIGN(UniqueFd parent, fetcher::openDirs(sandboxFd, parts, true));
  static std::atomic<uint64_t> counter{0};
  TempFile tmp{parent.get(), fmt::format(".{}.fetch-{}-{}", name, ::getpid(), counter++)};
  UniqueFd out(::openat(parent.get(), tmp.name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return Error::fromErrno("create temporary file in the sandbox");
  if (uri.cache() && !options_.cacheDir.empty()) {
    fetcher::FetchCache cache(options_.cacheDir, options_.cacheMaxBytes);
    std::string key = user ? fmt::format("{}\nuser={}", uri.value(), user->uid) : uri.value();
    TRY_ASSIGN(UniqueFd cached, cache.get(key, [&](int fd) {
      return download(source.location, source.http, fd, deadline, user);
    }));
    TRY(copyFd(cached.get(), out.get(), deadline, options_.timeout));
  } else {
    TRY(download(source.location, source.http, out.get(), deadline, user));
  }
  if (::fchmod(out.get(), uri.executable() ? 0755 : 0644) != 0) return Error::fromErrno("chmod");
  out.reset();
  if (::renameat(parent.get(), tmp.name.c_str(), parent.get(), name.c_str()) != 0)
    return Error::fromErrno(fmt::format("rename into '{}'", name));
  tmp.keep = true;
  if (uri.executable() || !uri.extract()) return ok();
  return unpack(parent.get(), name);
}

Status Fetcher::fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
                      const std::string& sandbox) {
  return fetch(uris, sandbox, std::nullopt);
}

Status Fetcher::fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
                      const std::string& sandbox, const std::optional<FetchUser>& user) {
  TRY_ASSIGN(UniqueFd root, UniqueFd::open(sandbox, O_RDONLY | O_DIRECTORY));
  for (const auto& uri : uris) {
    auto start = Clock::now();
    if (auto s = fetchOne(uri, root.get(), user); !s)
      return std::move(s).error().context("fetch '{}'", redactUri(uri.value()));
    logging::get("agent.fetcher")
        ->info("fetched uri={} sandbox={} cache={} ms={}", redactUri(uri.value()), sandbox, uri.cache(),
               std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  }
  return ok();
}

}  // namespace nucleo::agent
