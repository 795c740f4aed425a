#pragma once
// A small HTTP/1.1 server on 127.0.0.1 for the fetcher's and the health
// checks' tests: plain sockets, one thread per connection, optional TLS
// (OpenSSL), canned responses per path and a request count per path.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nucleo::testing {

struct TestResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // before the response is sent
  bool truncate = false;               // announce more body than sent, then close
};

class TestHttpServer {
 public:
  TestHttpServer() {
    ::signal(SIGPIPE, SIG_IGN);  // clients hang up early on purpose
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::pipe2(stop_, O_CLOEXEC) != 0)
      throw std::runtime_error("test server: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~TestHttpServer() {
    ::close(stop_[1]);
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(stop_[0]);
    ::close(listen_);
    if (tls_) SSL_CTX_free(tls_);
  }

  // Serves TLS with this certificate chain and key (PEM files).
  bool enableTls(const std::string& certFile, const std::string& keyFile) {
    tls_ = SSL_CTX_new(TLS_server_method());
    return tls_ && SSL_CTX_use_certificate_chain_file(tls_, certFile.c_str()) == 1 &&
           SSL_CTX_use_PrivateKey_file(tls_, keyFile.c_str(), SSL_FILETYPE_PEM) == 1;
  }
  void route(const std::string& path, TestResponse response) {
    std::lock_guard lock(mutex_);
    routes_[path] = std::move(response);
  }
  int hits(const std::string& path) {
    std::lock_guard lock(mutex_);
    return hits_[path];
  }
  // The last request's head (request line and headers) for `path`.
  std::string lastRequest(const std::string& path) {
    std::lock_guard lock(mutex_);
    return requests_[path];
  }
  uint16_t port() const { return port_; }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return (tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + path;
  }

 private:
  void acceptLoop() {
    for (;;) {
      pollfd fds[2] = {{listen_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }
  // Sleeps, but wakes when the server stops.
  void pause(std::chrono::milliseconds delay) {
    pollfd fd{stop_[0], POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(delay.count()));
  }
  void serve(int fd) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL* ssl = nullptr;
    if (tls_) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(fd);
        return;
      }
    }
    auto recv = [&](char* b, size_t n) -> ssize_t {
      return ssl ? SSL_read(ssl, b, static_cast<int>(n)) : ::read(fd, b, n);
    };
    auto send = [&](const std::string& s) {
      if (ssl) SSL_write(ssl, s.data(), static_cast<int>(s.size()));
      else (void)!::write(fd, s.data(), s.size());
    };
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(buffer, sizeof(buffer));
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    auto sp = request.find(' ');
    std::string path = sp == std::string::npos ? "" : request.substr(sp + 1, request.find(' ', sp + 1) - sp - 1);
    TestResponse response{404, "not found\n", {}, {}, false};
    {
      std::lock_guard lock(mutex_);
      ++hits_[path];
      requests_[path] = request.substr(0, request.find("\r\n\r\n"));
      if (auto it = routes_.find(path); it != routes_.end()) response = it->second;
    }
    if (response.delay.count() > 0) pause(response.delay);
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " X\r\nConnection: close\r\n";
    size_t length = response.body.size() + (response.truncate ? 1000 : 0);
    out += "Content-Length: " + std::to_string(length) + "\r\n";
    for (const auto& [k, v] : response.headers) out += k + ": " + v + "\r\n";
    send(out + "\r\n" + response.body);
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

  int listen_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  SSL_CTX* tls_ = nullptr;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::map<std::string, TestResponse> routes_;
  std::map<std::string, int> hits_;
  std::map<std::string, std::string> requests_;
};

}  // namespace nucleo::testing
