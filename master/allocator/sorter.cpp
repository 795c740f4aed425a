#include "master/allocator/sorter.hpp"

#include <algorithm>

namespace nucleo::master {

void DrfSorter::add(const std::string& client) {
  auto [it, added] = clients_.try_emplace(client);
  if (added) order_.emplace(0.0, 0, client);
}

void DrfSorter::remove(const std::string& client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  order_.erase(Key{it->second.share, it->second.allocations, client});
  clients_.erase(it);
}

void DrfSorter::setWeight(const std::string& client, double weight) {
  weights_[client] = weight > 0 ? weight : 1.0;
  if (auto it = clients_.find(client); it != clients_.end()) reinsert(client, it->second);
}

void DrfSorter::setTotal(const Quantities& total) {
  total_ = total;
  dirty_ = true;
}

void DrfSorter::allocated(const std::string& client, const Quantities& amounts) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  auto& c = it->second;
  if (!dirty_) order_.erase(Key{c.share, c.allocations, client});
  for (const auto& [name, v] : amounts) c.allocation[name] += v;
  ++c.allocations;
  c.share = computeShare(client, c);
  if (!dirty_) order_.emplace(c.share, c.allocations, client);
}

void DrfSorter::unallocated(const std::string& client, const Quantities& amounts) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  auto& allocation = it->second.allocation;
  for (const auto& [name, v] : amounts) {
    auto a = allocation.find(name);
    if (a == allocation.end()) continue;
    a->second -= v;
    // Below a thousandth (the scalar precision) is float noise.
    if (a->second < 0.0005) allocation.erase(a);
  }
  reinsert(client, it->second);
}

const Quantities& DrfSorter::allocation(const std::string& client) const {
  static const Quantities kNone;
  auto it = clients_.find(client);
  return it == clients_.end() ? kNone : it->second.allocation;
}

double DrfSorter::share(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? 0.0 : computeShare(client, it->second);
}

void DrfSorter::visit(const std::function<bool(const std::string&)>& visit) {
  if (dirty_) resortAll();
  for (const auto& key : order_)
    if (visit(std::get<2>(key))) return;
}

double DrfSorter::computeShare(const std::string& name, const Client& client) const {
  double share = 0;
  for (const auto& [resource, amount] : client.allocation) {
    auto total = total_.find(resource);
    if (total != total_.end() && total->second > 0)
      share = std::max(share, amount / total->second);
  }
  auto w = weights_.find(name);
  return w == weights_.end() ? share : share / w->second;
}

void DrfSorter::reinsert(const std::string& name, Client& client) {
  if (!dirty_) order_.erase(Key{client.share, client.allocations, name});
  client.share = computeShare(name, client);
  if (!dirty_) order_.emplace(client.share, client.allocations, name);
}

void DrfSorter::resortAll() {
  order_.clear();
  for (auto& [name, client] : clients_) {
    client.share = computeShare(name, client);
    order_.emplace(client.share, client.allocations, name);
  }
  dirty_ = false;
}

}  // namespace nucleo::master
