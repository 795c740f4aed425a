#include "master/allocator/offer_book.hpp"

#include <algorithm>

namespace nucleo::master {

OfferBook::OfferBook(const Clock& clock, std::string idPrefix,
                     std::optional<Clock::Duration> timeout)
    : clock_(clock), prefix_(std::move(idPrefix)), timeout_(timeout) {}

const OfferRecord& OfferBook::add(Allocation allocation) {
  std::string id = prefix_ + "-O" + std::to_string(next_++);
  auto now = clock_.now();
  auto [it, added] = offers_.emplace(id, OfferRecord{id, std::move(allocation), now});
  byAge_.emplace(now, id);
  return it->second;
}

const OfferRecord* OfferBook::find(const std::string& id) const {
  auto it = offers_.find(id);
  return it == offers_.end() ? nullptr : &it->second;
}

std::optional<OfferRecord> OfferBook::take(const std::string& id) {
  auto it = offers_.find(id);
  if (it == offers_.end()) return std::nullopt;
  auto range = byAge_.equal_range(it->second.created);
  for (auto a = range.first; a != range.second; ++a) {
    if (a->second == id) {
      byAge_.erase(a);
      break;
    }
  }
  OfferRecord record = std::move(it->second);
  offers_.erase(it);
  return record;
}

std::vector<OfferRecord> OfferBook::takeExpired() {
  std::vector<OfferRecord> out;
  if (!timeout_) return out;
  auto now = clock_.now();
  while (!byAge_.empty() && byAge_.begin()->first + *timeout_ <= now) {
    std::string id = byAge_.begin()->second;
    if (auto record = take(id)) out.push_back(std::move(*record));
  }
  return out;
}

std::vector<OfferRecord> OfferBook::takeIf(const std::function<bool(const OfferRecord&)>& pred) {
  std::vector<std::string> ids;
  for (const auto& [id, record] : offers_)
    if (pred(record)) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  std::vector<OfferRecord> out;
  for (const auto& id : ids)
    if (auto record = take(id)) out.push_back(std::move(*record));
  return out;
}

std::vector<const OfferRecord*> OfferBook::ofFramework(const std::string& frameworkId) const {
  std::vector<const OfferRecord*> out;
  for (const auto& [id, record] : offers_)
    if (record.allocation.frameworkId == frameworkId) out.push_back(&record);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return out;
}

}  // namespace nucleo::master
