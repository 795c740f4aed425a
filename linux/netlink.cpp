#include "linux/netlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <thread>

namespace nucleo::os::netlink {
namespace {

// Our requests are a few hundred bytes; dumps are read in the size libmnl
// recommends (a page, at least 8 KiB), sized at run time (it calls sysconf).
constexpr size_t MESSAGE_CAPACITY = 4096;

size_t receiveBufferSize() { return std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 32768); }

// The NLMSG_ERROR payload: errno (negative) and, with NETLINK_EXT_ACK, the
// kernel's text. With NETLINK_CAP_ACK the request is not echoed back, so the
// attributes follow the nlmsgerr directly.
Error ackError(const nlmsghdr* nlh) {
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  int code = -err->error;
  std::string text = std::strerror(code);
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    const auto* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
    size_t total = mnl_nlmsg_get_payload_len(nlh);
    const nlattr* attr = nullptr;
    for (size_t at = offset; at + sizeof(nlattr) <= total;) {
      attr = reinterpret_cast<const nlattr*>(base + at);
      if (attr->nla_len < sizeof(nlattr) || at + attr->nla_len > total) break;
      if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
        text += std::string(" (") + mnl_attr_get_str(attr) + ")";
      at += MNL_ALIGN(attr->nla_len);
    }
  }
  return Error{code, text};
}

}  // namespace

Message::Message(uint16_t type, uint16_t flags) : buf_(MESSAGE_CAPACITY, 0) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
}

void* Message::putExtra(size_t size) { return mnl_nlmsg_put_extra_header(header(), size); }

void Message::putU8(uint16_t type, uint8_t value) { mnl_attr_put_u8(header(), type, value); }

void Message::putU32(uint16_t type, uint32_t value) { mnl_attr_put_u32(header(), type, value); }

void Message::putString(uint16_t type, const std::string& value) {
  mnl_attr_put_strz_check(header(), MESSAGE_CAPACITY, type, value.c_str());
}

void Message::putBytes(uint16_t type, const void* data, size_t size) {
  mnl_attr_put_check(header(), MESSAGE_CAPACITY, type, size, data);
}

nlattr* Message::beginNest(uint16_t type) { return mnl_attr_nest_start(header(), type); }

void Message::endNest(nlattr* nest) { mnl_attr_nest_end(header(), nest); }

std::span<const uint8_t> Message::bytes() const {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data());
  return {buf_.data(), nlh->nlmsg_len};
}

Socket::Socket(mnl_socket* socket)
    : socket_(socket), portId_(mnl_socket_get_portid(socket)), buf_(receiveBufferSize()) {}

Socket::Socket(Socket&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)),
      portId_(other.portId_),
      seq_(other.seq_),
      buf_(std::move(other.buf_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (socket_) mnl_socket_close(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
    portId_ = other.portId_;
    seq_ = other.seq_;
    buf_ = std::move(other.buf_);
  }
  return *this;
}

Socket::~Socket() {
  if (socket_) mnl_socket_close(socket_);
}

Result<Socket> Socket::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!s) return Error::fromErrno("netlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = Error::fromErrno("netlink bind");
    mnl_socket_close(s);
    return e;
  }
  int on = 1;
  // Both are best effort: without them errors just lack the kernel's text.
  (void)mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &on, sizeof on);
  (void)mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &on, sizeof on);
  return Socket(s);
}

Result<Socket> Socket::openIn(const UniqueFd& netns) {
  std::optional<Result<Socket>> out;
  std::thread worker([&] {
    if (::setns(netns.get(), CLONE_NEWNET) < 0) {
      out.emplace(Error::fromErrno("join network namespace"));
      return;
    }
    out.emplace(open());
  });
  worker.join();
  return std::move(*out);
}

Status Socket::send(Message& message) {
  nlmsghdr* nlh = message.header();
  nlh->nlmsg_seq = ++seq_;
  nlh->nlmsg_pid = 0;
  if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return Error::fromErrno("netlink send");
  return ok();
}

Status Socket::receive(uint32_t seq, const std::function<void(const nlmsghdr*)>* each) {
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0) return Error::fromErrno("netlink receive");
    size_t len = static_cast<size_t>(n);
    int left = static_cast<int>(len);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portId_) continue;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) return ok();
        return ackError(nlh);
      }
      if (nlh->nlmsg_type == NLMSG_DONE) return ok();
      if (each) (*each)(nlh);
    }
  }
}

Status Socket::request(Message& message) {
  message.header()->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  TRY(send(message));
  return receive(seq_, nullptr);
}

Status Socket::dump(Message& message, const std::function<void(const nlmsghdr*)>& each) {
  message.header()->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  TRY(send(message));
  return receive(seq_, &each);
}

}  // namespace nucleo::os::netlink
