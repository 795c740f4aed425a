// The probes: a non-blocking connect with a deadline, a hand-written
// HTTP/1.1 GET (TLS through OpenSSL, unverified as Mesos's `curl -k`), and a
// command run by the caller's runner or on the host.
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "agent/health/health_checker.hpp"
#include "base/unique_fd.hpp"

extern char** environ;

namespace nucleo::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::string hostPort(const std::string& ip, uint32_t port) {
  return ip.find(':') != std::string::npos ? fmt::format("[{}]:{}", ip, port)
                                           : fmt::format("{}:{}", ip, port);
}

// Waits for `events` on fd until the deadline; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, msLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

Result<UniqueFd> connectTo(const std::string& ip, uint32_t port, Clock::time_point deadline,
                           milliseconds timeout) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(ip.c_str(), service.c_str(), &hints, &found); rc != 0)
    return Error::make("'{}' is not an IP address: {}", ip, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket");
  if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS)
    return Error::fromErrno(fmt::format("connect {}", hostPort(ip, port)));
  if (!waitFor(fd.get(), POLLOUT, deadline))
    return Error{ETIMEDOUT, fmt::format("connect {}: timed out after {} ms", hostPort(ip, port),
                                        timeout.count())};
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Error::fromErrno(fmt::format("connect {}", hostPort(ip, port)), err);
  return fd;
}

// A byte stream over the socket, plain or TLS, every call bounded by the
// deadline.
class Stream {
 public:
  Stream(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
  ~Stream() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  Status startTls(const std::string& host);
  Status send(std::string_view data);
  Result<size_t> recv(char* buffer, size_t size);

 private:
  // Retries an OpenSSL call until it completes or the deadline passes.
  template <class F>
  Result<int> sslCall(F&& call, const char* what);

  int fd_;
  Clock::time_point deadline_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

template <class F>
Result<int> Stream::sslCall(F&& call, const char* what) {
  for (;;) {
    int n = call();
    if (n > 0) return n;
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) return Error::make("TLS {}: error {}", what, err);
    if (!waitFor(fd_, events, deadline_)) return Error{ETIMEDOUT, fmt::format("TLS {}: timed out", what)};
  }
}

Status Stream::startTls(const std::string& host) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_ || !(ssl_ = SSL_new(ctx_))) return Error::make("TLS: cannot create a context");
  // Mesos probes https with `curl -k`: the task's certificate is not checked.
  SSL_set_verify(ssl_, SSL_VERIFY_NONE, nullptr);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, host.c_str());
  TRY(sslCall([&] { return SSL_connect(ssl_); }, "handshake"));
  return ok();
}

Status Stream::send(std::string_view data) {
  while (!data.empty()) {
    if (ssl_) {
      TRY_ASSIGN(int n, sslCall([&] { return SSL_write(ssl_, data.data(), static_cast<int>(data.size())); }, "write"));
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      if (!waitFor(fd_, POLLOUT, deadline_)) return Error{ETIMEDOUT, "send: timed out"};
      continue;
    }
    if (n < 0 && errno != EINTR) return Error::fromErrno("send");
    if (n > 0) data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Result<size_t> Stream::recv(char* buffer, size_t size) {
  if (ssl_) {
    TRY_ASSIGN(int n, sslCall([&] { return SSL_read(ssl_, buffer, static_cast<int>(size)); }, "read"));
    return static_cast<size_t>(n);
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Error::fromErrno("recv");
    if (!waitFor(fd_, POLLIN, deadline_)) return Error{ETIMEDOUT, "no response: timed out"};
  }
}

// OpenSSL writes with write(2): a peer that already closed would raise
// SIGPIPE in the agent. Blocked for the probe; one raised meanwhile is
// consumed (the classic per-thread trick, since the handler is process-wide).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    wasPending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!wasPending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool wasPending_ = false;
};

// "HTTP/1.1 503 Service Unavailable" -> 503.
Result<int> statusOf(const std::string& head) {
  auto sp = head.find(' ');
  if (head.compare(0, 5, "HTTP/") != 0 || sp == std::string::npos || head.size() < sp + 4)
    return Error::make("not an HTTP response: '{}'", head.substr(0, head.find('\r')));
  int status = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (head[i] < '0' || head[i] > '9') return Error::make("bad status line '{}'", head.substr(0, head.find('\r')));
    status = status * 10 + (head[i] - '0');
  }
  return status;
}

Result<int> httpStatus(const std::string& ip, const mesos::v1::HealthCheck::HTTPCheckInfo& http,
                       milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  TRY_ASSIGN(UniqueFd fd, connectTo(ip, http.port(), deadline, timeout));
  SigpipeGuard noSigpipe;
  Stream stream(fd.get(), deadline);
  if (http.scheme() == "https") TRY(stream.startTls(ip));
  std::string path = http.path().empty() ? "/" : http.path();
  TRY(stream.send(fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nucleo-health-check\r\n"
                              "Accept: */*\r\nConnection: close\r\n\r\n",
                              path, hostPort(ip, http.port()))));
  // Only the status line matters; the body is left unread.
  std::string head;
  char buffer[1024];
  while (head.find("\r\n") == std::string::npos && head.size() < 8192) {
    TRY_ASSIGN(size_t n, stream.recv(buffer, sizeof(buffer)));
    if (n == 0) break;
    head.append(buffer, n);
  }
  if (head.empty()) return Error::make("connection closed without a response");
  return statusOf(head);
}

}  // namespace

Status probeHttp(const std::string& ip, const mesos::v1::HealthCheck::HTTPCheckInfo& http,
                 milliseconds timeout) {
  std::string url = fmt::format("{}://{}{}", http.scheme().empty() ? "http" : http.scheme(),
                                hostPort(ip, http.port()), http.path().empty() ? "/" : http.path());
  auto status = httpStatus(ip, http, timeout);
  if (!status) return std::move(status).error().context("HTTP health check {}", url);
  bool good = *status >= 200 && *status < 400;
  if (http.statuses_size() > 0) {
    good = false;
    for (auto s : http.statuses()) good = good || static_cast<int>(s) == *status;
  }
  if (!good) return Error::make("HTTP health check {}: status {}", url, *status);
  return ok();
}

Status probeTcp(const std::string& ip, uint32_t port, milliseconds timeout) {
  auto connected = connectTo(ip, port, Clock::now() + timeout, timeout);
  if (!connected) return std::move(connected).error().context("TCP health check");
  return ok();
}

Status probeCommand(const mesos::v1::CommandInfo& command, const CommandRunner& runner,
                    milliseconds timeout) {
  auto status = runner(command, timeout);
  if (!status) return std::move(status).error().context("command health check '{}'", command.value());
  if (*status != 0)
    return Error::make("command health check '{}': exited with status {}", command.value(), *status);
  return ok();
}

Status runProbe(const mesos::v1::HealthCheck& check, const std::string& ip,
                const CommandRunner& runner) {
  auto timeout = std::chrono::duration_cast<milliseconds>(
      std::chrono::duration<double>(check.timeout_seconds()));
  switch (check.type()) {
    case mesos::v1::HealthCheck::HTTP: return probeHttp(ip, check.http(), timeout);
    case mesos::v1::HealthCheck::TCP: return probeTcp(ip, check.tcp().port(), timeout);
    case mesos::v1::HealthCheck::COMMAND: return probeCommand(check.command(), runner, timeout);
    default: return Error{EINVAL, "health check without a type"};
  }
}

Result<int> runHostCommand(const mesos::v1::CommandInfo& command, milliseconds timeout) {
  // Mesos: with shell, `value` runs under /bin/sh -c; without, `value` is
  // the program (looked up in PATH) and `arguments` its whole argv.
  std::string program = command.shell() ? "/bin/sh" : command.value();
  std::vector<std::string> argv;
  if (command.shell()) argv = {"sh", "-c", command.value()};
  else argv.assign(command.arguments().begin(), command.arguments().end());
  if (argv.empty()) argv.push_back(program);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& v : command.environment().variables()) env.push_back(v.name() + "=" + v.value());
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  for (auto& e : env) cenv.push_back(e.data());
  cargv.push_back(nullptr);
  cenv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // one group, killed as one
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, program.c_str(), nullptr, &attr, cargv.data(), cenv.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::fromErrno(fmt::format("spawn '{}'", program), rc);
  auto deadline = Clock::now() + timeout;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  int wstatus = 0;
  bool exited = false;
  if (pidfd) {
    exited = waitFor(pidfd.get(), POLLIN, deadline);
  } else {
    // No pidfd (kernel < 5.3): poll the child.
    while (!exited && Clock::now() < deadline) {
      exited = ::waitpid(pid, &wstatus, WNOHANG) == pid;
      if (!exited) ::usleep(5000);
    }
    if (exited) pidfd.reset();
  }
  if (!exited) ::kill(-pid, SIGKILL);
  if (pidfd || !exited) {
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  if (!exited) return Error{ETIMEDOUT, fmt::format("timed out after {} ms", timeout.count())};
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return WEXITSTATUS(wstatus);
}

}  // namespace nucleo::agent
