#pragma once
// Resources as the allocator counts them: scalars (cpus, mem, disk, gpus) in
// fixed point with three decimals as Mesos keeps them, ranges (ports) as
// disjoint inclusive intervals, sets as string sets. A value type with no
// reservations or roles: the allocator tracks ownership itself.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace nucleo::master {

// Amounts by resource name (scalar values, range value counts): what DRF
// shares are computed over. Unlike Resources, ports on two agents add up.
using Quantities = std::map<std::string, double>;

// Disjoint, sorted, non-adjacent inclusive intervals.
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

class Resources {
 public:
  // Parses "cpus:2;mem:1024;ports:[31000-32000,33000-33000];zones:{a,b}" (the
  // agent --resources syntax). Errors name the offending item.
  static Result<Resources> parse(std::string_view text);

  // Adds a scalar (rounded to 1/1000); non-positive amounts are ignored.
  void addScalar(const std::string& name, double value);
  // Adds the inclusive range [begin, end]; begin > end is ignored.
  void addRange(const std::string& name, uint64_t begin, uint64_t end);
  void addSetItem(const std::string& name, const std::string& item);

  Resources& operator+=(const Resources& other);
  // Removes what `other` has in common with this; the rest of `other` is
  // ignored, so a - b never goes negative.
  Resources& operator-=(const Resources& other);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  bool operator==(const Resources& other) const = default;

  // True when every resource of `other` is also here, in full.
  bool contains(const Resources& other) const;
  bool empty() const;

  // The amount of a resource: scalar value, number of range values, or set
  // size; 0 when absent.
  double quantity(const std::string& name) const;
  // Scalars and range counts (sets are not counted).
  Quantities quantities() const;
  // Names of every resource present.
  std::vector<std::string> names() const;

  const std::map<std::string, int64_t>& scalarsMilli() const { return scalars_; }
  const std::map<std::string, Ranges>& ranges() const { return ranges_; }
  const std::map<std::string, std::set<std::string>>& sets() const { return sets_; }

  // The parse() syntax, names sorted.
  std::string toString() const;

 private:
  std::map<std::string, int64_t> scalars_;  // in thousandths
  std::map<std::string, Ranges> ranges_;
  std::map<std::string, std::set<std::string>> sets_;
};

}  // namespace nucleo::master
