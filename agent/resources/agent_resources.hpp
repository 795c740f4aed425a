#pragma once
// The agent's --resources and --attributes flags (Mesos syntax) and what it
// detects when a resource is not given.

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

// "cpus:4;mem:8192;disk:20000;ports:[31000-32000,33000-33100];gpus:0" or a
// JSON array of Resource objects (as Mesos accepts). Also the
// "name(role):value" reservation spelling, which becomes a STATIC entry in
// `reservations` (Mesos's refined form). Values: a number (rounded to three
// decimals, >= 0), "[b-e,...]" ranges (sorted, overlaps merged) or "{a,b}"
// sets. Zero amounts are kept. Errors name the bad entry; a name given twice
// for the same role is an error (Mesos would add them up).
Result<std::vector<mesos::v1::Resource>> parseResources(const std::string& text);

// "rack:a;zone:1" -> text or scalar attributes (ranges/sets as Mesos parses).
Result<std::vector<mesos::v1::Attribute>> parseAttributes(const std::string& text);

struct DetectOptions {
  std::string workDir;            // disk: statvfs of its filesystem
  // 0: Mesos's rule (containerizer.cpp): 1 GiB left to the system when
  // MemTotal >= 2 GiB, else half of MemTotal.
  uint64_t memoryReserveMb = 0;
  // 0: Mesos's rule: 5 GiB left when the filesystem has >= 10 GiB, else half.
  uint64_t diskReserveMb = 0;
  std::string meminfoPath = "/proc/meminfo";  // tests inject a fake one
  uint64_t portsBegin = 31000, portsEnd = 32000;
};

// Fills in cpus (the agent's cpuset: sched_getaffinity), mem (MemTotal
// minus the reserve, MB), disk (the work dir's filesystem size minus the
// reserve, MB) and ports ([31000-32000]) for every one of those not in
// `given` (under any role); keeps `given` as is, detected ones appended.
// Errors: meminfo unreadable, statvfs of workDir failed.
Result<std::vector<mesos::v1::Resource>> completeResources(
    std::vector<mesos::v1::Resource> given, const DetectOptions& options);

// "cpus:2;mem(role):1024;ports:[31000-31002]": for logs and messages;
// parseResources reads it back.
std::string formatResources(const std::vector<mesos::v1::Resource>& resources);

}  // namespace nucleo::agent
