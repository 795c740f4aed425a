#include "agent/fetcher/fetcher.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
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

struct TempFile {
  int dirfd;
  std::string name;
  bool keep = false;
  ~TempFile() {
    if (!keep) ::unlinkat(dirfd, name.c_str(), 0);
  }
};

}  // namespace

Fetcher::Fetcher(FetcherOptions options) : options_(std::move(options)) {}

Status Fetcher::download(const std::string& location, bool http, int fd,
                         std::chrono::steady_clock::time_point deadline) const {
  if (!http) {
    TRY_ASSIGN(UniqueFd in, UniqueFd::open(location, O_RDONLY));
    struct stat st;
    if (::fstat(in.get(), &st) != 0) return Error::fromErrno(fmt::format("stat '{}'", location));
    if (!S_ISREG(st.st_mode)) return Error::make("'{}' is not a regular file", location);
    return copyFd(in.get(), fd, deadline, options_.timeout);
  }
  // A fragment is the client's business, never sent.
  TRY_ASSIGN(images::Url url, images::parseUrl(location.substr(0, location.find('#'))));
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
    auto sink = [&](const char* data, size_t size) -> Status {
      if (Clock::now() > deadline) return timedOut(options_.timeout);
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

Status Fetcher::fetchOne(const mesos::v1::CommandInfo::URI& uri, int sandboxFd) const {
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
    TRY_ASSIGN(UniqueFd cached, cache.get(uri.value(), [&](int fd) {
      return download(source.location, source.http, fd, deadline);
    }));
    TRY(copyFd(cached.get(), out.get(), deadline, options_.timeout));
  } else {
    TRY(download(source.location, source.http, out.get(), deadline));
  }
  if (::fchmod(out.get(), uri.executable() ? 0755 : 0644) != 0) return Error::fromErrno("chmod");
  out.reset();
  if (::renameat(parent.get(), tmp.name.c_str(), parent.get(), name.c_str()) != 0)
    return Error::fromErrno(fmt::format("rename into '{}'", name));
  tmp.keep = true;
  if (uri.executable() || !uri.extract() || !fetcher::isArchive(name)) return ok();
  UniqueFd archive(::openat(parent.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!archive) return Error::fromErrno(fmt::format("open '{}'", name));
  auto stats = fetcher::extractArchive(archive.get(), parent.get());
  if (!stats) {
    // A failed URI leaves nothing: the archive goes too.
    ::unlinkat(parent.get(), name.c_str(), 0);
    return std::move(stats).error().context("extract '{}'", name);
  }
  logging::get("agent.fetcher")->debug("extracted name={} entries={} bytes={}", name,
                                       stats->entries, stats->bytes);
  return ok();
}

Status Fetcher::fetch(const std::vector<mesos::v1::CommandInfo::URI>& uris,
                      const std::string& sandbox) {
  TRY_ASSIGN(UniqueFd root, UniqueFd::open(sandbox, O_RDONLY | O_DIRECTORY));
  for (const auto& uri : uris) {
    auto start = Clock::now();
    if (auto s = fetchOne(uri, root.get()); !s)
      return std::move(s).error().context("fetch '{}'", uri.value());
    logging::get("agent.fetcher")
        ->info("fetched uri={} sandbox={} cache={} ms={}", uri.value(), sandbox, uri.cache(),
               std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  }
  return ok();
}

}  // namespace nucleo::agent
