#pragma once
// Conversions between mesos.v1 messages and the allocator's types, and small
// protocol helpers shared by the master's call handlers.

#include <string>

#include <google/protobuf/repeated_field.h>

#include "base/result.hpp"
#include "master/allocator/resources.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::master {

using ProtoResources = google::protobuf::RepeatedPtrField<mesos::v1::Resource>;

// Sums mesos.v1 resources. Errors name the resource: a missing name or type,
// a negative or non-finite scalar, a range with begin > end, or a type whose
// payload is missing. Reservations and roles are not tracked.
Result<Resources> fromProto(const ProtoResources& resources);

// Writes resources as mesos.v1 resources; with a role, each carries
// allocation_info.role (for MULTI_ROLE frameworks).
void toProto(const Resources& resources, const std::string& allocationRole,
             ProtoResources* out);

// 16 random bytes, for status update and stream uuids.
std::string randomUuidBytes();
// A random UUID in its text form (8-4-4-4-12 hex digits).
std::string randomUuidString();

// True for TASK_FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE,
// GONE_BY_OPERATOR.
bool isTerminal(mesos::v1::TaskState state);

// Mesos's rule for ids (task, executor, role-free ids): non-empty, no '/',
// not "." or "..", no control or space characters. Errors name the field.
Status validateId(const std::string& what, const std::string& id);

// Mesos's role name rule: non-empty, not "." or "..", no leading '-', no
// '/' at either end, no spaces; "*" is the default role.
Status validateRole(const std::string& role);

}  // namespace nucleo::master
