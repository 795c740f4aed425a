#include "sdk/resources.hpp"

#include <cmath>

namespace nucleo::sdk {

namespace {
// Mesos compares scalars with fixed-point precision of 0.001.
constexpr double kEpsilon = 0.0005;
}  // namespace

Quantities scalars(const ResourceList& resources) {
  Quantities sums;
  for (const auto& resource : resources)
    if (resource.type() == mesos::v1::Value::SCALAR) sums[resource.name()] += resource.scalar().value();
  return sums;
}

std::optional<std::vector<mesos::v1::Resource>> take(ResourceList* available,
                                                     const Quantities& wanted) {
  Quantities have = scalars(*available);
  for (const auto& [name, amount] : wanted)
    if (amount > kEpsilon && have[name] + kEpsilon < amount) return std::nullopt;
  std::vector<mesos::v1::Resource> taken;
  for (const auto& [name, amount] : wanted) {
    double left = amount;
    for (auto& resource : *available) {
      if (left <= kEpsilon) break;
      if (resource.name() != name || resource.type() != mesos::v1::Value::SCALAR) continue;
      double part = std::min(left, resource.scalar().value());
      if (part <= 0) continue;
      mesos::v1::Resource piece = resource;
      piece.mutable_scalar()->set_value(std::round(part * 1000) / 1000);
      taken.push_back(std::move(piece));
      resource.mutable_scalar()->set_value(resource.scalar().value() - part);
      left -= part;
    }
  }
  return taken;
}

mesos::v1::Resource scalar(const std::string& name, double value) {
  mesos::v1::Resource resource;
  resource.set_name(name);
  resource.set_type(mesos::v1::Value::SCALAR);
  resource.mutable_scalar()->set_value(value);
  return resource;
}

}  // namespace nucleo::sdk
