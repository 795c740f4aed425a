#include "containerizer/sync.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace nucleo::containerizer {

Status syncSend(int fd, SyncType type, int code, std::string_view text) {
  SyncMessage m;
  m.type = type;
  m.code = code;
  size_t n = std::min(text.size(), sizeof m.text - 1);
  std::memcpy(m.text, text.data(), n);
  if (::send(fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m))
    return Error::fromErrno("sync send");
  return ok();
}

Result<SyncMessage> syncRecv(int fd) {
  SyncMessage m;
  for (;;) {
    ssize_t n = ::recv(fd, &m, sizeof m, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("sync receive");
    if (n == 0) return Error{ECHILD, "container init exited during setup"};
    if (n != static_cast<ssize_t>(sizeof m)) return Error::make("sync: short message");
    m.text[sizeof m.text - 1] = '\0';
    return m;
  }
}

Status syncExpect(int fd, SyncType expected) {
  TRY_ASSIGN(SyncMessage m, syncRecv(fd));
  if (m.type == SyncType::Error) return Error{m.code, m.text};
  if (m.type != expected)
    return Error::make("sync: expected message {}, got {}", static_cast<int>(expected),
                       static_cast<int>(m.type));
  return ok();
}

Status sendFd(int socket, int fd, std::string_view name) {
  char data[256] = {};
  size_t n = std::min(name.size(), sizeof data - 1);
  std::memcpy(data, name.data(), n);
  struct iovec iov = {data, n + 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  if (::sendmsg(socket, &msg, MSG_NOSIGNAL) < 0) return Error::fromErrno("send console fd");
  return ok();
}

Result<int> receiveFd(int socket) {
  char data[256];
  struct iovec iov = {data, sizeof data};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return Error::fromErrno("receive console fd");
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !cmsg || cmsg->cmsg_type != SCM_RIGHTS)
    return Error::make("console socket: no file descriptor received");
  int fd;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return fd;
}

Result<UniqueFd> connectConsole(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::fromErrno("socket");
  UniqueFd sock(fd);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error::make("--console-socket: path '{}' is too long", path);
  std::strcpy(addr.sun_path, path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Error::fromErrno("--console-socket: connect '" + path + "'");
  return sock;
}

}  // namespace nucleo::containerizer
