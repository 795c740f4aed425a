#pragma once
// The agent's --resources and --attributes flags (Mesos syntax) and what it
// detects when a resource is not given.

#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

// "cpus:4;mem:8192;disk:20000;ports:[31000-32000,33000-33100];gpus:0" or a
// JSON array of Resource objects (as Mesos accepts). Also the
// "name(role):value" reservation spelling. Errors name the bad entry.
Result<std::vector<mesos::v1::Resource>> parseResources(const std::string& text);

// "rack:a;zone:1" -> text or scalar attributes (ranges/sets as Mesos parses).
Result<std::vector<mesos::v1::Attribute>> parseAttributes(const std::string& text);

struct DetectOptions {
  std::string workDir;            // disk: statvfs of its filesystem
  uint64_t memoryReserveMb = 0;   // 0: Mesos's rule: max(1 GiB, 5% ... ) capped as Mesos does; documented
};

// Fills in cpus (the agent's cpuset: sched_getaffinity), mem (MemTotal
// minus the reserve), disk (the work dir's filesystem minus 5% or 5 GiB
// reserve, whichever smaller) and ports ([31000-32000]) for every one of
// those not in `given`; keeps `given` as is.
Result<std::vector<mesos::v1::Resource>> completeResources(
    std::vector<mesos::v1::Resource> given, const DetectOptions& options);

// "cpus:2;mem:1024;ports:[31000-31002]": for logs and messages.
std::string formatResources(const std::vector<mesos::v1::Resource>& resources);

}  // namespace nucleo::agent
