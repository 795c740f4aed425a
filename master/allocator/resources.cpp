#include "master/allocator/resources.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/strings.hpp"

namespace nucleo::master {
namespace {

Ranges mergeRanges(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end());
  Ranges out;
  for (const auto& r : ranges) {
    if (!out.empty() && (out.back().second == UINT64_MAX || r.first <= out.back().second + 1)) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

Ranges subtractRanges(const Ranges& from, const Ranges& minus) {
  Ranges out;
  for (auto [begin, end] : from) {
    for (const auto& [mb, me] : minus) {
      if (me < begin || mb > end) continue;
      if (mb > begin) out.emplace_back(begin, mb - 1);
      if (me >= end) {
        begin = 1;
        end = 0;  // consumed
        break;
      }
      begin = me + 1;
    }
    if (begin <= end) out.emplace_back(begin, end);
  }
  return out;
}

bool rangesContain(const Ranges& outer, const Ranges& inner) {
  for (const auto& [b, e] : inner) {
    auto it = std::upper_bound(outer.begin(), outer.end(), std::make_pair(b, UINT64_MAX));
    if (it == outer.begin()) return false;
    --it;
    if (it->first > b || it->second < e) return false;
  }
  return true;
}

uint64_t rangesCount(const Ranges& ranges) {
  uint64_t n = 0;
  for (const auto& [b, e] : ranges) n += e - b + 1;
  return n;
}

Status parseRanges(Resources& out, const std::string& name, std::string_view body) {
  for (const auto& part : strings::split(body, ',', true)) {
    auto bounds = strings::split(strings::trim(part), '-');
    if (bounds.size() != 2) return Error::make("resource '{}': bad range '{}'", name, part);
    auto begin = strings::toUint(strings::trim(bounds[0]));
    auto end = strings::toUint(strings::trim(bounds[1]));
    if (!begin.has_value() || !end.has_value() || begin.value() > end.value())
      return Error::make("resource '{}': bad range '{}'", name, part);
    out.addRange(name, begin.value(), end.value());
  }
  return {};
}

}  // namespace

Result<Resources> Resources::parse(std::string_view text) {
  Resources out;
  for (const auto& item : strings::split(text, ';', true)) {
    auto colon = item.find(':');
    std::string name(strings::trim(std::string_view(item).substr(0, colon)));
    if (colon == std::string::npos || name.empty())
      return Error::make("resource '{}': expected name:value", item);
    auto value = strings::trim(std::string_view(item).substr(colon + 1));
    if (value.size() >= 2 && value.front() == '[' && value.back() == ']') {
      TRY(parseRanges(out, name, value.substr(1, value.size() - 2)));
    } else if (value.size() >= 2 && value.front() == '{' && value.back() == '}') {
      for (const auto& v : strings::split(value.substr(1, value.size() - 2), ',', true))
        out.addSetItem(name, std::string(strings::trim(v)));
    } else {
      char* end = nullptr;
      std::string copy(value);
      double d = std::strtod(copy.c_str(), &end);
      if (copy.empty() || *end != '\0' || !std::isfinite(d) || d < 0)
        return Error::make("resource '{}': bad scalar '{}'", name, value);
      out.addScalar(name, d);
    }
  }
  return out;
}

void Resources::addScalar(const std::string& name, double value) {
  if (!(value > 0) || !std::isfinite(value)) return;
  auto milli = static_cast<int64_t>(std::llround(value * 1000.0));
  if (milli > 0) scalars_[name] += milli;
}

void Resources::addRange(const std::string& name, uint64_t begin, uint64_t end) {
  if (begin > end) return;
  auto& ranges = ranges_[name];
  ranges.emplace_back(begin, end);
  ranges = mergeRanges(std::move(ranges));
}

void Resources::addSetItem(const std::string& name, const std::string& item) {
  sets_[name].insert(item);
}

Resources& Resources::operator+=(const Resources& other) {
  for (const auto& [name, v] : other.scalars_) scalars_[name] += v;
  for (const auto& [name, r] : other.ranges_) {
    auto& mine = ranges_[name];
    mine.insert(mine.end(), r.begin(), r.end());
    mine = mergeRanges(std::move(mine));
  }
  for (const auto& [name, s] : other.sets_) sets_[name].insert(s.begin(), s.end());
  return *this;
}

Resources& Resources::operator-=(const Resources& other) {
  for (const auto& [name, v] : other.scalars_) {
    auto it = scalars_.find(name);
    if (it == scalars_.end()) continue;
    it->second -= v;
    if (it->second <= 0) scalars_.erase(it);
  }
  for (const auto& [name, r] : other.ranges_) {
    auto it = ranges_.find(name);
    if (it == ranges_.end()) continue;
    it->second = subtractRanges(it->second, r);
    if (it->second.empty()) ranges_.erase(it);
  }
  for (const auto& [name, s] : other.sets_) {
    auto it = sets_.find(name);
    if (it == sets_.end()) continue;
    for (const auto& item : s) it->second.erase(item);
    if (it->second.empty()) sets_.erase(it);
  }
  return *this;
}

bool Resources::contains(const Resources& other) const {
  for (const auto& [name, v] : other.scalars_) {
    auto it = scalars_.find(name);
    if (it == scalars_.end() || it->second < v) return false;
  }
  for (const auto& [name, r] : other.ranges_) {
    auto it = ranges_.find(name);
    if (it == ranges_.end() || !rangesContain(it->second, r)) return false;
  }
  for (const auto& [name, s] : other.sets_) {
    auto it = sets_.find(name);
    if (it == sets_.end()) return false;
    for (const auto& item : s)
      if (!it->second.count(item)) return false;
  }
  return true;
}

bool Resources::empty() const {
  return scalars_.empty() && ranges_.empty() && sets_.empty();
}

double Resources::quantity(const std::string& name) const {
  if (auto it = scalars_.find(name); it != scalars_.end()) return it->second / 1000.0;
  if (auto it = ranges_.find(name); it != ranges_.end())
    return static_cast<double>(rangesCount(it->second));
  if (auto it = sets_.find(name); it != sets_.end()) return static_cast<double>(it->second.size());
  return 0;
}

Quantities Resources::quantities() const {
  Quantities out;
  for (const auto& [name, v] : scalars_) out[name] = v / 1000.0;
  for (const auto& [name, r] : ranges_) out[name] = static_cast<double>(rangesCount(r));
  return out;
}

std::vector<std::string> Resources::names() const {
  std::set<std::string> names;
  for (const auto& [n, v] : scalars_) names.insert(n);
  for (const auto& [n, v] : ranges_) names.insert(n);
  for (const auto& [n, v] : sets_) names.insert(n);
  return {names.begin(), names.end()};
}

std::string Resources::toString() const {
  std::map<std::string, std::string> items;
  for (const auto& [name, v] : scalars_) {
    std::string s = fmt::format("{:.3f}", v / 1000.0);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    items[name] = s;
  }
  for (const auto& [name, r] : ranges_) {
    std::vector<std::string> parts;
    for (const auto& [b, e] : r) parts.push_back(fmt::format("{}-{}", b, e));
    items[name] = fmt::format("[{}]", strings::join(parts, ","));
  }
  for (const auto& [name, s] : sets_)
    items[name] = fmt::format("{{{}}}", strings::join({s.begin(), s.end()}, ","));
  std::vector<std::string> out;
  for (const auto& [name, v] : items) out.push_back(fmt::format("{}:{}", name, v));
  return strings::join(out, ";");
}

}  // namespace nucleo::master
