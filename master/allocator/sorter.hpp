#pragma once
// A DRF sorter (Mesos's DRFSorter): orders clients by dominant share, the
// largest fraction of the cluster total of any resource kind they hold,
// divided by their weight. Ties go to the client with fewer allocations,
// then to the smaller name. Scalars and range counts (ports) are counted;
// sets are not. Kept ordered incrementally: an allocation change re-sorts one
// client, a change of the total re-sorts all lazily.

#include <functional>
#include <set>
#include <string>
#include <unordered_map>

#include "master/allocator/resources.hpp"

namespace nucleo::master {

class DrfSorter {
 public:
  // Adds a client with no allocation; adding a present client is a no-op.
  void add(const std::string& client);
  // Removes a client and forgets its allocation.
  void remove(const std::string& client);
  bool contains(const std::string& client) const { return clients_.count(client) != 0; }
  bool empty() const { return clients_.empty(); }

  // Weight of a client (or of a client added later); must be > 0.
  void setWeight(const std::string& client, double weight);

  // The cluster total that shares are fractions of.
  void setTotal(const Quantities& total);

  // Records amounts given to / taken back from a present client.
  void allocated(const std::string& client, const Quantities& amounts);
  void unallocated(const std::string& client, const Quantities& amounts);

  const Quantities& allocation(const std::string& client) const;
  // Weighted dominant share of a present client (0 for others).
  double share(const std::string& client) const;

  // Calls visit on clients in ascending share until it returns true. visit
  // must not change this sorter.
  void visit(const std::function<bool(const std::string&)>& visit);

 private:
  struct Client {
    Quantities allocation;
    double share = 0;
    uint64_t allocations = 0;
  };
  using Key = std::tuple<double, uint64_t, std::string>;

  double computeShare(const std::string& name, const Client& client) const;
  void reinsert(const std::string& name, Client& client);
  void resortAll();

  Quantities total_;
  std::unordered_map<std::string, Client> clients_;
  std::unordered_map<std::string, double> weights_;
  std::set<Key> order_;
  bool dirty_ = false;
};

}  // namespace nucleo::master
