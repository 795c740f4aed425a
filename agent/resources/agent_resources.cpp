#include "agent/resources/agent_resources.hpp"

#include <sched.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "proto/json.hpp"

namespace nucleo::agent {
namespace {

using mesos::v1::Attribute;
using mesos::v1::Resource;
using mesos::v1::Value;

constexpr uint64_t MIB = 1 << 20;
constexpr uint64_t GIB = 1ull << 30;

// Mesos keeps scalars to three decimals so that sums stay exact enough.
double roundScalar(double v) { return std::round(v * 1000.0) / 1000.0; }

Result<double> parseScalar(std::string_view text) {
  std::string s(strings::trim(text));
  if (s.empty()) return Error::make("empty value");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    return Error::make("'{}' is not a number", s);
  return v;
}

// "[a-b,c-d]" into merged, sorted ranges.
Result<Value::Ranges> parseRanges(std::string_view text) {
  if (text.size() < 2 || text.back() != ']') return Error::make("'{}': missing ']'", text);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& part : strings::split(text.substr(1, text.size() - 2), ',')) {
    auto bounds = strings::split(strings::trim(part), '-');
    std::optional<uint64_t> begin, end;
    if (bounds.size() == 2) {
      begin = strings::toUint(strings::trim(bounds[0]));
      end = strings::toUint(strings::trim(bounds[1]));
    }
    if (!begin || !end) return Error::make("bad range '{}' (expected begin-end)", part);
    if (*begin > *end) return Error::make("bad range '{}': begin after end", part);
    ranges.emplace_back(*begin, *end);
  }
  std::sort(ranges.begin(), ranges.end());
  Value::Ranges out;
  for (const auto& [b, e] : ranges) {
    int n = out.range_size();
    if (n > 0 && (out.range(n - 1).end() == UINT64_MAX || b <= out.range(n - 1).end() + 1)) {
      out.mutable_range(n - 1)->set_end(std::max(out.range(n - 1).end(), e));
      continue;
    }
    auto* r = out.add_range();
    r->set_begin(b);
    r->set_end(e);
  }
  return out;
}

Result<Value::Set> parseSet(std::string_view text) {
  if (text.size() < 2 || text.back() != '}') return Error::make("'{}': missing '}}'", text);
  Value::Set out;
  std::set<std::string> seen;
  for (const auto& part : strings::split(text.substr(1, text.size() - 2), ',')) {
    std::string item(strings::trim(part));
    if (item.empty()) return Error::make("empty set item in '{}'", text);
    if (!seen.insert(item).second) return Error::make("duplicate set item '{}'", item);
    out.add_item(item);
  }
  return out;
}

bool validName(std::string_view name) {
  if (name.empty()) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == ':';
  });
}

// Mesos's role rules: no leading '-', no '.'/'..', no whitespace, no '/' at
// either end ("a/b" is a hierarchical role).
bool validRole(std::string_view role) {
  if (role == "*") return true;
  if (role.empty() || role == "." || role == ".." || role.front() == '-') return false;
  if (role.front() == '/' || role.back() == '/') return false;
  return std::none_of(role.begin(), role.end(),
                      [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

Status setResourceValue(Resource& r, std::string_view value) {
  if (!value.empty() && value.front() == '[') {
    TRY_ASSIGN(auto ranges, parseRanges(value));
    r.set_type(Value::RANGES);
    *r.mutable_ranges() = std::move(ranges);
  } else if (!value.empty() && value.front() == '{') {
    TRY_ASSIGN(auto set, parseSet(value));
    r.set_type(Value::SET);
    *r.mutable_set() = std::move(set);
  } else {
    auto scalar = parseScalar(value);
    if (!scalar) return Error::make("'{}' is neither a number, [ranges] nor {{set}}", value);
    if (*scalar < 0) return Error::make("negative amount {}", *scalar);
    r.set_type(Value::SCALAR);
    r.mutable_scalar()->set_value(roundScalar(*scalar));
  }
  return ok();
}

void setRole(Resource& r, const std::string& role) {
  if (role == "*") return;
  // Reservation refinement form (Mesos >= 1.4): a static reservation.
  auto* reservation = r.add_reservations();
  reservation->set_type(Resource::ReservationInfo::STATIC);
  reservation->set_role(role);
}

Result<Resource> parseTextEntry(std::string_view entry) {
  auto colon = entry.find(':');
  if (colon == std::string_view::npos) return Error::make("missing ':'");
  std::string_view key = strings::trim(entry.substr(0, colon));
  std::string_view value = strings::trim(entry.substr(colon + 1));
  std::string role = "*";
  if (auto open = key.find('('); open != std::string_view::npos) {
    if (key.back() != ')') return Error::make("missing ')' after the role");
    role = std::string(strings::trim(key.substr(open + 1, key.size() - open - 2)));
    key = strings::trim(key.substr(0, open));
    if (!validRole(role)) return Error::make("invalid role '{}'", role);
  }
  if (!validName(key)) return Error::make("invalid resource name '{}'", key);
  Resource r;
  r.set_name(std::string(key));
  TRY(setResourceValue(r, value));
  setRole(r, role);
  return r;
}

std::string roleOf(const Resource& r) {
  if (r.reservations_size() > 0) return r.reservations(r.reservations_size() - 1).role();
  return r.role();
}

Status checkJsonResource(const Resource& r) {
  if (!validName(r.name())) return Error::make("invalid or missing name '{}'", r.name());
  if (!r.has_type()) return Error::make("missing type");
  switch (r.type()) {
    case Value::SCALAR:
      if (!r.has_scalar()) return Error::make("SCALAR without 'scalar'");
      if (!std::isfinite(r.scalar().value()) || r.scalar().value() < 0)
        return Error::make("bad amount {}", r.scalar().value());
      return ok();
    case Value::RANGES:
      if (!r.has_ranges()) return Error::make("RANGES without 'ranges'");
      for (const auto& range : r.ranges().range())
        if (range.begin() > range.end())
          return Error::make("bad range {}-{}", range.begin(), range.end());
      return ok();
    case Value::SET:
      if (!r.has_set()) return Error::make("SET without 'set'");
      return ok();
    default:
      return Error::make("type {} is not a resource type", Value::Type_Name(r.type()));
  }
}

Result<std::vector<Resource>> parseJsonResources(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec) return Error::make("resources: invalid JSON: {}", ec.message());
  if (!doc.is_array()) return Error::make("resources: JSON must be an array of Resource objects");
  std::vector<Resource> out;
  size_t index = 0;
  for (const auto& element : doc.as_array()) {
    Resource r;
    auto parsed = proto::fromJson(boost::json::serialize(element), &r);
    if (!parsed) return std::move(parsed).error().context("resources: JSON entry #{}", index);
    if (auto s = checkJsonResource(r); !s)
      return std::move(s).error().context("resources: JSON entry #{} ('{}')", index, r.name());
    if (!validRole(roleOf(r)))
      return Error::make("resources: JSON entry #{} ('{}'): invalid role '{}'", index, r.name(),
                         roleOf(r));
    if (r.type() == Value::SCALAR) r.mutable_scalar()->set_value(roundScalar(r.scalar().value()));
    out.push_back(std::move(r));
    ++index;
  }
  return out;
}

Status checkDuplicates(const std::vector<Resource>& resources) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : resources)
    if (!seen.emplace(r.name(), roleOf(r)).second)
      return Error::make("resources: '{}' given twice for role '{}'", r.name(), roleOf(r));
  return ok();
}

std::string formatValue(const Resource& r) {
  switch (r.type()) {
    case Value::SCALAR: return fmt::format("{}", r.scalar().value());
    case Value::RANGES: {
      std::vector<std::string> parts;
      for (const auto& range : r.ranges().range())
        parts.push_back(fmt::format("{}-{}", range.begin(), range.end()));
      return "[" + strings::join(parts, ",") + "]";
    }
    case Value::SET: {
      std::vector<std::string> items(r.set().item().begin(), r.set().item().end());
      return "{" + strings::join(items, ",") + "}";
    }
    default: return "?";
  }
}

Resource scalarResource(const std::string& name, double value) {
  Resource r;
  r.set_name(name);
  r.set_type(Value::SCALAR);
  r.mutable_scalar()->set_value(roundScalar(value));
  return r;
}

}  // namespace

Result<std::vector<Resource>> parseResources(const std::string& text) {
  std::string_view trimmed = strings::trim(text);
  std::vector<Resource> out;
  if (!trimmed.empty() && trimmed.front() == '[') {
    TRY_ASSIGN(out, parseJsonResources(std::string(trimmed)));
  } else {
    for (const auto& entry : strings::split(trimmed, ';')) {
      if (strings::trim(entry).empty()) continue;
      auto r = parseTextEntry(entry);
      if (!r) return std::move(r).error().context("resources: entry '{}'", strings::trim(entry));
      out.push_back(std::move(r).value());
    }
  }
  TRY(checkDuplicates(out));
  return out;
}

Result<std::vector<Attribute>> parseAttributes(const std::string& text) {
  std::vector<Attribute> out;
  for (const auto& raw : strings::split(text, ';')) {
    std::string_view entry = strings::trim(raw);
    if (entry.empty()) continue;
    auto colon = entry.find(':');
    std::string_view name = strings::trim(entry.substr(0, colon));
    if (colon == std::string_view::npos || !validName(name))
      return Error::make("attributes: entry '{}': expected name:value", entry);
    std::string_view value = strings::trim(entry.substr(colon + 1));
    if (value.empty()) return Error::make("attributes: entry '{}': empty value", entry);
    Attribute a;
    a.set_name(std::string(name));
    Status parsed;
    if (value.front() == '[') {
      auto ranges = parseRanges(value);
      if (ranges) *a.mutable_ranges() = std::move(ranges).value();
      else parsed = std::move(ranges).error();
      a.set_type(Value::RANGES);
    } else if (value.front() == '{') {
      auto set = parseSet(value);
      if (set) *a.mutable_set() = std::move(set).value();
      else parsed = std::move(set).error();
      a.set_type(Value::SET);
    } else if (auto scalar = parseScalar(value)) {
      a.set_type(Value::SCALAR);
      a.mutable_scalar()->set_value(roundScalar(*scalar));
    } else {
      a.set_type(Value::TEXT);
      a.mutable_text()->set_value(std::string(value));
    }
    if (!parsed) return std::move(parsed).error().context("attributes: entry '{}'", entry);
    out.push_back(std::move(a));
  }
  return out;
}

Result<uint64_t> detectMemoryMb(const DetectOptions& options) {
  TRY_ASSIGN(std::string meminfo, fs::readFile(options.meminfoPath));
  for (const auto& line : strings::split(meminfo, '\n')) {
    if (!strings::startsWith(line, "MemTotal:")) continue;
    auto fields = strings::split(strings::trim(line.substr(9)), ' ', true);
    auto kb = fields.empty() ? std::nullopt : strings::toUint(fields[0]);
    if (!kb) return Error::make("'{}': bad MemTotal line '{}'", options.meminfoPath, line);
    uint64_t total = *kb * 1024;
    // Mesos's rule: leave 1 GiB to the system, or half of a small machine.
    uint64_t reserve = options.memoryReserveMb > 0 ? options.memoryReserveMb * MIB
                       : total >= 2 * GIB          ? GIB
                                                   : total / 2;
    return total > reserve ? (total - reserve) / MIB : 0;
  }
  return Error::make("'{}': no MemTotal line", options.meminfoPath);
}

Result<uint64_t> detectDiskMb(const DetectOptions& options) {
  struct statvfs st;
  if (::statvfs(options.workDir.c_str(), &st) != 0)
    return Error::fromErrno(fmt::format("statvfs '{}'", options.workDir));
  uint64_t total = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  // Mesos's rule: leave 5 GiB on a filesystem of 10 GiB or more, else half.
  uint64_t reserve = options.diskReserveMb > 0 ? options.diskReserveMb * MIB
                     : total >= 10 * GIB        ? 5 * GIB
                                                : total / 2;
  return total > reserve ? (total - reserve) / MIB : 0;
}

Result<double> detectCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return Error::fromErrno("sched_getaffinity");
  return static_cast<double>(CPU_COUNT(&set));
}

Result<std::vector<Resource>> completeResources(std::vector<Resource> given,
                                                const DetectOptions& options) {
  auto has = [&](std::string_view name) {
    return std::any_of(given.begin(), given.end(), [&](const Resource& r) { return r.name() == name; });
  };
  std::vector<Resource> detected;
  if (!has("cpus")) {
    TRY_ASSIGN(double cpus, detectCpus());
    detected.push_back(scalarResource("cpus", cpus));
  }
  if (!has("mem")) {
    TRY_ASSIGN(uint64_t mem, detectMemoryMb(options).context("detecting mem"));
    detected.push_back(scalarResource("mem", static_cast<double>(mem)));
  }
  if (!has("disk")) {
    TRY_ASSIGN(uint64_t disk, detectDiskMb(options).context("detecting disk"));
    detected.push_back(scalarResource("disk", static_cast<double>(disk)));
  }
  if (!has("ports")) {
    Resource ports;
    ports.set_name("ports");
    ports.set_type(Value::RANGES);
    auto* range = ports.mutable_ranges()->add_range();
    range->set_begin(options.portsBegin);
    range->set_end(options.portsEnd);
    detected.push_back(std::move(ports));
  }
  for (auto& r : detected) given.push_back(std::move(r));
  return given;
}

std::string formatResources(const std::vector<Resource>& resources) {
  std::vector<std::string> parts;
  for (const auto& r : resources) {
    std::string role = roleOf(r);
    std::string name = role == "*" || role.empty() ? r.name() : r.name() + "(" + role + ")";
    parts.push_back(name + ":" + formatValue(r));
  }
  return strings::join(parts, ";");
}

}  // namespace nucleo::agent
