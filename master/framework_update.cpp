// Changes to a subscribed framework: UPDATE_FRAMEWORK, and the FrameworkInfo
// and roles of a re-subscription, which Mesos applies the same way.

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/logging.hpp"
#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {

using mesos::v1::scheduler::Call;

namespace {

bool hasCapability(const mesos::v1::FrameworkInfo& info,
                   mesos::v1::FrameworkInfo::Capability::Type type) {
  return std::any_of(info.capabilities().begin(), info.capabilities().end(),
                     [&](const auto& c) { return c.type() == type; });
}

Response error(int status, std::string message) { return Response{status, std::move(message), {}}; }

// FrameworkInfo.offer_filters as the allocator takes them: per role, the
// alternatives of min_allocatable_resources (scalar quantities).
Result<std::map<std::string, std::vector<Resources>>> minAllocatable(
    const mesos::v1::FrameworkInfo& info) {
  std::map<std::string, std::vector<Resources>> out;
  for (const auto& [role, filters] : info.offer_filters()) {
    if (!filters.has_min_allocatable_resources()) continue;
    auto& alternatives = out[role];
    for (const auto& quantities : filters.min_allocatable_resources().quantities()) {
      Resources minimum;
      for (const auto& [name, scalar] : quantities.quantities()) {
        if (!std::isfinite(scalar.value()) || scalar.value() < 0)
          return Error::make("offer_filters of role '{}': quantity of '{}' must be >= 0", role,
                             name);
        minimum.addScalar(name, scalar.value());
      }
      alternatives.push_back(std::move(minimum));
    }
  }
  return out;
}

}  // namespace

std::optional<Response> Master::validateRoles(
    const mesos::v1::FrameworkInfo& info,
    const google::protobuf::RepeatedPtrField<std::string>& suppressedRoles,
    std::vector<std::string>* roles, std::set<std::string>* suppressed) const {
  if (hasCapability(info, mesos::v1::FrameworkInfo::Capability::MULTI_ROLE)) {
    if (info.has_role()) return error(400, "'FrameworkInfo.role' must not be set with MULTI_ROLE");
    roles->assign(info.roles().begin(), info.roles().end());
  } else {
    if (info.roles_size() > 0)
      return error(400, "'FrameworkInfo.roles' is set but the framework lacks MULTI_ROLE");
    roles->push_back(info.role());
  }
  std::set<std::string> unique;
  for (const auto& role : *roles) {
    if (auto s = validateRole(role); !s) return error(400, s.error().message);
    if (!unique.insert(role).second) return error(400, fmt::format("duplicate role '{}'", role));
    if (!options_.roles.empty() &&
        std::find(options_.roles.begin(), options_.roles.end(), role) == options_.roles.end())
      return error(403, fmt::format("role '{}' is not one of the master's --roles", role));
  }
  suppressed->insert(suppressedRoles.begin(), suppressedRoles.end());
  for (const auto& role : *suppressed)
    if (!unique.count(role))
      return error(400, fmt::format("suppressed role '{}' is not one of the framework's roles", role));
  for (const auto& [role, filters] : info.offer_filters())
    if (!unique.count(role))
      return error(400, fmt::format("offer_filters role '{}' is not one of the framework's roles",
                                    role));
  if (auto min = minAllocatable(info); !min) return error(400, min.error().message);
  return std::nullopt;
}

Response Master::updateFramework(Framework& framework, const Call& call,
                                 const CallContext& context) {
  const auto& update = call.update_framework();
  const auto& info = update.framework_info();
  if (info.id().value() != framework.id)
    return error(400, "'update_framework.framework_info.id' differs from 'framework_id'");
  if (!info.has_user()) return error(400, "Expecting 'framework_info.user' to be present");
  if (!info.has_name()) return error(400, "Expecting 'framework_info.name' to be present");
  if (update.has_offer_constraints() && update.offer_constraints().role_constraints_size() > 0)
    return error(400, "'update_framework.offer_constraints' are not supported by nucleo-master");
  if (info.principal() != framework.info.principal())
    return error(400, "'framework_info.principal' cannot be changed");
  if (info.user() != framework.info.user())
    return error(400, "'framework_info.user' cannot be changed");
  if (info.checkpoint() != framework.info.checkpoint())
    return error(400, "'framework_info.checkpoint' cannot be changed");
  if (!options_.credentials.empty() && info.principal() != context.principal)
    return error(403, fmt::format("Authenticated principal '{}' does not match principal '{}' "
                                  "set in FrameworkInfo",
                                  context.principal, info.principal()));
  std::vector<std::string> roles;
  std::set<std::string> suppressed;
  if (auto invalid = validateRoles(info, update.suppressed_roles(), &roles, &suppressed))
    return *invalid;
  applyFrameworkInfo(framework, info, roles, suppressed);
  publishFramework(framework, false);
  registryDirty_ = true;
  logging::get("master")->info("framework updated framework_id={}", framework.id);
  return Response{200, "", {}};
}

void Master::applyFrameworkInfo(Framework& framework, const mesos::v1::FrameworkInfo& info,
                                const std::vector<std::string>& roles,
                                const std::set<std::string>& suppressed) {
  std::string user = framework.info.user();
  bool checkpoint = framework.info.checkpoint();
  framework.info = info;
  framework.info.mutable_id()->set_value(framework.id);
  framework.info.set_user(user);  // Mesos ignores changes to these two
  framework.info.set_checkpoint(checkpoint);
  framework.partitionAware =
      hasCapability(info, mesos::v1::FrameworkInfo::Capability::PARTITION_AWARE);
  framework.multiRole = hasCapability(info, mesos::v1::FrameworkInfo::Capability::MULTI_ROLE);
  framework.roles = roles;
  if (auto s = allocator_.updateFramework(framework.id, roles, suppressed); !s)
    logging::get("master")->error("{}", s.error().message);
  auto minimum = minAllocatable(info);  // validated by validateRoles
  allocator_.setMinAllocatable(
      framework.id, minimum ? std::move(*minimum) : std::map<std::string, std::vector<Resources>>{});
  // Offers for a role the framework left or suppressed are taken back.
  rescindOffers(
      [&](const OfferRecord& r) {
        return r.allocation.frameworkId == framework.id &&
               (std::find(roles.begin(), roles.end(), r.allocation.role) == roles.end() ||
                suppressed.count(r.allocation.role));
      },
      true);
}

}  // namespace nucleo::master
