#include "master/convert.hpp"

#include <cmath>
#include <random>

#include <fmt/format.h>

namespace nucleo::master {

Result<Resources> fromProto(const ProtoResources& resources) {
  Resources out;
  for (const auto& r : resources) {
    if (!r.has_name() || r.name().empty()) return Error::make("resource without a name");
    if (!r.has_type()) return Error::make("resource '{}' has no type", r.name());
    switch (r.type()) {
      case mesos::v1::Value::SCALAR: {
        double v = r.scalar().value();
        if (!r.has_scalar() || !std::isfinite(v) || v < 0)
          return Error::make("resource '{}': scalar must be a non-negative number", r.name());
        out.addScalar(r.name(), v);
        break;
      }
      case mesos::v1::Value::RANGES:
        if (!r.has_ranges()) return Error::make("resource '{}': missing ranges", r.name());
        for (const auto& range : r.ranges().range()) {
          if (range.begin() > range.end())
            return Error::make("resource '{}': range {}-{} has begin > end", r.name(),
                               range.begin(), range.end());
          out.addRange(r.name(), range.begin(), range.end());
        }
        break;
      case mesos::v1::Value::SET:
        if (!r.has_set()) return Error::make("resource '{}': missing set", r.name());
        for (const auto& item : r.set().item()) out.addSetItem(r.name(), item);
        break;
      default:
        return Error::make("resource '{}': type {} is not a resource type", r.name(),
                           mesos::v1::Value::Type_Name(r.type()));
    }
  }
  return out;
}

void toProto(const Resources& resources, const std::string& allocationRole, ProtoResources* out) {
  auto add = [&](const std::string& name, mesos::v1::Value::Type type) {
    auto* r = out->Add();
    r->set_name(name);
    r->set_type(type);
    if (!allocationRole.empty()) r->mutable_allocation_info()->set_role(allocationRole);
    return r;
  };
  for (const auto& [name, milli] : resources.scalarsMilli())
    add(name, mesos::v1::Value::SCALAR)->mutable_scalar()->set_value(milli / 1000.0);
  for (const auto& [name, ranges] : resources.ranges()) {
    auto* r = add(name, mesos::v1::Value::RANGES);
    for (const auto& [b, e] : ranges) {
      auto* range = r->mutable_ranges()->add_range();
      range->set_begin(b);
      range->set_end(e);
    }
  }
  for (const auto& [name, items] : resources.sets()) {
    auto* r = add(name, mesos::v1::Value::SET);
    for (const auto& item : items) r->mutable_set()->add_item(item);
  }
}

std::string randomUuidBytes() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(16, '\0');
  for (int i = 0; i < 16; i += 8) {
    uint64_t v = rng();
    for (int k = 0; k < 8; ++k) out[i + k] = static_cast<char>(v >> (8 * k));
  }
  out[6] = static_cast<char>((out[6] & 0x0f) | 0x40);  // version 4
  out[8] = static_cast<char>((out[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return out;
}

std::string randomUuidString() {
  std::string bytes = randomUuidBytes();
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", static_cast<unsigned char>(bytes[i]));
  }
  return out;
}

bool isTerminal(mesos::v1::TaskState state) {
  switch (state) {
    case mesos::v1::TASK_FINISHED:
    case mesos::v1::TASK_FAILED:
    case mesos::v1::TASK_KILLED:
    case mesos::v1::TASK_ERROR:
    case mesos::v1::TASK_LOST:
    case mesos::v1::TASK_DROPPED:
    case mesos::v1::TASK_GONE:
    case mesos::v1::TASK_GONE_BY_OPERATOR:
      return true;
    default:
      return false;
  }
}

Status validateId(const std::string& what, const std::string& id) {
  if (id.empty()) return Error::make("{} must not be empty", what);
  if (id == "." || id == "..") return Error::make("{} '{}' is disallowed", what, id);
  for (unsigned char c : id)
    if (c == '/' || c < 0x21 || c == 0x7f)
      return Error::make("{} '{}' contains invalid characters", what, id);
  return {};
}

Status validateRole(const std::string& role) {
  if (role == "*") return {};
  if (role.empty() || role == "." || role == ".." || role.front() == '-' ||
      role.front() == '/' || role.back() == '/' || role.find("//") != std::string::npos ||
      role.find_first_of(" \t\n\\") != std::string::npos || role.find('*') != std::string::npos)
    return Error::make("role '{}' is not a valid role name", role);
  return {};
}

}  // namespace nucleo::master
