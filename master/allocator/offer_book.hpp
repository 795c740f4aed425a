#pragma once
// Outstanding offers: what the allocator gave, under an offer id, until the
// framework accepts or declines it, or it is rescinded. With a timeout
// (--offer-timeout) offers older than it are handed back by takeExpired().

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "master/allocator/allocator.hpp"
#include "master/allocator/clock.hpp"

namespace nucleo::master {

struct OfferRecord {
  std::string id;
  Allocation allocation;
  Clock::TimePoint created;
};

class OfferBook {
 public:
  // Offer ids are "<prefix>-O<n>", as Mesos spells them.
  OfferBook(const Clock& clock, std::string idPrefix, std::optional<Clock::Duration> timeout);

  // Records an allocation as a new offer; returns it.
  const OfferRecord& add(Allocation allocation);
  // The offer with this id, or nullptr.
  const OfferRecord* find(const std::string& id) const;
  // Removes an offer (accepted, declined or rescinded) and returns it.
  std::optional<OfferRecord> take(const std::string& id);
  // Removes and returns the offers older than the timeout (none without one).
  std::vector<OfferRecord> takeExpired();
  // Removes and returns every offer matching `pred`.
  std::vector<OfferRecord> takeIf(const std::function<bool(const OfferRecord&)>& pred);
  // Offers of a framework, in id order.
  std::vector<const OfferRecord*> ofFramework(const std::string& frameworkId) const;
  size_t size() const { return offers_.size(); }

 private:
  const Clock& clock_;
  std::string prefix_;
  std::optional<Clock::Duration> timeout_;
  uint64_t next_ = 0;
  std::unordered_map<std::string, OfferRecord> offers_;
  std::multimap<Clock::TimePoint, std::string> byAge_;
};

}  // namespace nucleo::master
