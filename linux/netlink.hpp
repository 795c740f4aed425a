#pragma once
// rtnetlink through libmnl: a request builder whose bytes tests compare with
// known-good messages, and a socket that sends a request and waits for the
// kernel's ack (or reads a dump). Kernel errors keep their errno and carry the
// kernel's extended-ack text when it gives one.

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

struct mnl_socket;
struct nlattr;

namespace nucleo::os::netlink {

// One netlink message under construction (header, family header, attributes).
// Sequence number and port id stay 0 until the socket sends it.
class Message {
 public:
  Message(uint16_t type, uint16_t flags);

  // Appends a zeroed fixed header (ifinfomsg, ifaddrmsg, rtmsg): after the
  // netlink header, or inside a nest that starts with one (veth's peer).
  template <class T>
  T* putHeader() {
    return static_cast<T*>(putExtra(sizeof(T)));
  }
  void putU8(uint16_t type, uint8_t value);
  void putU32(uint16_t type, uint32_t value);
  void putString(uint16_t type, const std::string& value);  // NUL-terminated
  void putBytes(uint16_t type, const void* data, size_t size);
  // Nested attributes: everything put between begin and end goes inside.
  nlattr* beginNest(uint16_t type);
  void endNest(nlattr* nest);

  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  std::span<const uint8_t> bytes() const;

 private:
  void* putExtra(size_t size);
  std::vector<uint8_t> buf_;
};

// A NETLINK_ROUTE socket bound to the network namespace it was opened in.
class Socket {
 public:
  // Opens in the caller's network namespace.
  static Result<Socket> open();
  // Opens inside the namespace of `netns` (an fd of /proc/<pid>/ns/net): a
  // short-lived thread joins it and opens the socket, which stays in that
  // namespace, so the caller's threads never change namespace. Errors: EPERM
  // without CAP_SYS_ADMIN, EINVAL when the fd is no network namespace.
  static Result<Socket> openIn(const UniqueFd& netns);

  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ~Socket();

  // Sends with NLM_F_ACK and waits for the ack; a kernel error becomes an
  // Error with its errno and the message "<strerror>[ (<kernel text>)]".
  Status request(Message& message);
  // Sends a NLM_F_DUMP request and calls `each` with every reply message.
  Status dump(Message& message, const std::function<void(const nlmsghdr*)>& each);

 private:
  explicit Socket(mnl_socket* socket);
  Status send(Message& message);
  // Reads replies to `seq` until the ack (dump: NLMSG_DONE).
  Status receive(uint32_t seq, const std::function<void(const nlmsghdr*)>* each);

  mnl_socket* socket_ = nullptr;
  uint32_t portId_ = 0;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace nucleo::os::netlink
