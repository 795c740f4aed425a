#include "network/ipam.hpp"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>

#include "base/fs.hpp"

namespace nucleo::network {
namespace {

using os::net::Ipv4;
using os::net::Ipv4Net;

std::string leaseJson(const std::string& container, const std::string& owner) {
  return boost::json::serialize(boost::json::object{{"container", container}, {"owner", owner}});
}

std::optional<Lease> readLease(const std::string& dir, const std::string& name) {
  auto ip = Ipv4::parse(name);
  if (!ip) return std::nullopt;
  Lease lease{*ip, "", ""};
  auto text = fs::readFile(dir + "/" + name);
  if (!text) return lease;
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  if (ec || !v.is_object()) return lease;
  if (auto* c = v.as_object().if_contains("container"); c && c->is_string())
    lease.container = c->as_string().c_str();
  if (auto* o = v.as_object().if_contains("owner"); o && o->is_string())
    lease.owner = o->as_string().c_str();
  return lease;
}

}  // namespace

Ipam::Ipam(std::string dir, os::net::Ipv4Net subnet, os::net::Ipv4 gateway)
    : dir_(std::move(dir)), subnet_(subnet), gateway_(gateway) {}

Status Ipam::check(Ipv4 wanted) const {
  if (!subnet_.contains(wanted))
    return Error{EINVAL, fmt::format("address {} is outside subnet {}", wanted.str(),
                                     Ipv4Net{subnet_.network(), subnet_.prefix}.str())};
  if (wanted == subnet_.network() || wanted == subnet_.broadcast() || wanted == gateway_)
    return Error{EINVAL, fmt::format("address {} is reserved in subnet {} (network, gateway or broadcast)",
                                     wanted.str(), Ipv4Net{subnet_.network(), subnet_.prefix}.str())};
  return ok();
}

// True when the address is now ours, false when someone holds it.
Result<bool> Ipam::tryLease(Ipv4 address, const std::string& tmpPath) {
  if (::link(tmpPath.c_str(), path(address).c_str()) == 0) return true;
  if (errno == EEXIST) return false;
  return Error::fromErrno("lease '" + path(address) + "'");
}

Result<Ipv4> Ipam::allocate(const std::string& container, const std::string& owner,
                            std::optional<Ipv4> wanted) {
  if (wanted) TRY(check(*wanted));
  TRY(fs::makeDirs(dir_, 0700));
  static std::atomic<unsigned> counter{0};
  std::string tmp = fmt::format("{}/.tmp-{}-{}-{}", dir_, ::getpid(), ::syscall(SYS_gettid),
                                counter++);
  // No fsync: leases matter while their containers live, and none outlives a
  // reboot; a lease torn by a crash is reclaimed as unreadable.
  TRY(fs::writeFileAtomic(tmp, leaseJson(container, owner), 0600, fs::Durability::Volatile));
  struct Unlink {
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlinkTmp{tmp};
  if (wanted) {
    TRY_ASSIGN(bool mine, tryLease(*wanted, tmp));
    if (mine) return *wanted;
    auto holder = readLease(dir_, wanted->str());
    return Error{EADDRINUSE, fmt::format("address {} is in use by container \"{}\"", wanted->str(),
                                         holder ? holder->container : "?")};
  }
  for (uint32_t v = subnet_.network().value + 1; v < subnet_.broadcast().value; ++v) {
    if (Ipv4{v} == gateway_) continue;
    TRY_ASSIGN(bool mine, tryLease(Ipv4{v}, tmp));
    if (mine) return Ipv4{v};
  }
  return Error{EAGAIN, fmt::format("subnet {} is full", Ipv4Net{subnet_.network(), subnet_.prefix}.str())};
}

Status Ipam::release(Ipv4 address, const std::string& container) {
  auto lease = readLease(dir_, address.str());
  if (!lease || (!lease->container.empty() && lease->container != container)) return ok();
  if (::unlink(path(address).c_str()) < 0 && errno != ENOENT)
    return Error::fromErrno("release lease '" + path(address) + "'");
  return ok();
}

Result<std::vector<Lease>> Ipam::leases() const {
  std::vector<Lease> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Error::fromErrno("open '" + dir_ + "'");
  }
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (auto lease = readLease(dir_, e->d_name)) out.push_back(std::move(*lease));
  }
  ::closedir(d);
  return out;
}

Result<std::vector<Lease>> Ipam::reclaim(const std::function<bool(const Lease&)>& alive) {
  TRY_ASSIGN(auto all, leases());
  std::vector<Lease> released;
  for (auto& lease : all) {
    if (!lease.container.empty() && alive(lease)) continue;
    if (::unlink(path(lease.address).c_str()) < 0 && errno != ENOENT)
      return Error::fromErrno("reclaim lease '" + path(lease.address) + "'");
    released.push_back(std::move(lease));
  }
  return released;
}

}  // namespace nucleo::network
