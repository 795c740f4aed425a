#pragma once
// Resource arithmetic a framework needs on offers: does a task fit, and the
// task's resources carved out of the offer's (keeping the offer's role,
// allocation_info and reservations, as the master requires).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/repeated_field.h>

#include "mesos/v1/mesos.pb.h"

namespace nucleo::sdk {

using ResourceList = google::protobuf::RepeatedPtrField<mesos::v1::Resource>;

// Scalar quantities by name ("cpus" -> 0.5, "mem" -> 128).
using Quantities = std::map<std::string, double>;

// Sums the scalar resources of a list by name.
Quantities scalars(const ResourceList& resources);

// Takes `wanted` out of `available` (modified in place) and returns the taken
// resources with the same metadata as the offer's; nullopt (and `available`
// unchanged) if it does not fit.
std::optional<std::vector<mesos::v1::Resource>> take(ResourceList* available,
                                                     const Quantities& wanted);

// A scalar resource without role metadata: for ExecutorInfo/TaskInfo
// templates that `take` then fills in.
mesos::v1::Resource scalar(const std::string& name, double value);

}  // namespace nucleo::sdk
