#pragma once
// IPv4 address management for a bridge's subnet: one lease file per address
// (<dir>/<a.b.c.d>, JSON naming the container and its owner). A lease is
// written to a temporary file and hard-linked to its name: link(2) fails with
// EEXIST when another process holds the address, so concurrent starts in any
// number of threads or processes never share one, and a reader never sees a
// half-written lease.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "linux/net_link.hpp"

namespace nucleo::network {

struct Lease {
  os::net::Ipv4 address;
  std::string container;
  std::string owner;  // opaque to IPAM: who can tell whether the container lives
};

class Ipam {
 public:
  // Leases live in `dir` (made on first use). Addresses are the subnet's hosts
  // except its network, broadcast and `gateway` addresses.
  Ipam(std::string dir, os::net::Ipv4Net subnet, os::net::Ipv4 gateway);

  // Leases the lowest free address, or `wanted`: an error names it when it is
  // outside the subnet, reserved, or leased (and to which container). EAGAIN
  // "subnet ... is full" when no address is left.
  Result<os::net::Ipv4> allocate(const std::string& container, const std::string& owner,
                                 std::optional<os::net::Ipv4> wanted = std::nullopt);
  // Removes the lease if `container` holds it; a missing lease is fine.
  Status release(os::net::Ipv4 address, const std::string& container);
  Result<std::vector<Lease>> leases() const;
  // Releases every lease whose container `alive` says is gone (and unreadable
  // lease files); returns what it released.
  Result<std::vector<Lease>> reclaim(const std::function<bool(const Lease&)>& alive);

 private:
  Status check(os::net::Ipv4 wanted) const;
  Result<bool> tryLease(os::net::Ipv4 address, const std::string& tmpPath);
  std::string path(os::net::Ipv4 address) const { return dir_ + "/" + address.str(); }

  std::string dir_;
  os::net::Ipv4Net subnet_;
  os::net::Ipv4 gateway_;
};

}  // namespace nucleo::network
