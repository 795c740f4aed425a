#pragma once
// Mesos health checks (TaskInfo.health_check): COMMAND, HTTP and TCP, with
// delay, interval, timeout, grace period and consecutive failures. A pure
// state machine (HealthCheckState) fed with check results and a clock, plus
// the probes themselves. The agent runs probes for a task and turns state
// changes into TaskStatus updates with `healthy` set and
// REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

using SteadyTime = std::chrono::steady_clock::time_point;

// Validates a HealthCheck as Mesos does (type set and matching its info,
// ports in range, non-negative durations...); the error names the field.
Status validateHealthCheck(const mesos::v1::HealthCheck& check);

// What happened after one probe result.
struct HealthVerdict {
  std::optional<bool> healthyChanged;  // set when an update must be sent
  bool killTask = false;  // consecutive_failures reached after the grace period
};

class HealthCheckState {
 public:
  HealthCheckState(const mesos::v1::HealthCheck& check, SteadyTime taskStarted);
  // When the next probe is due (delay first, then every interval).
  SteadyTime nextProbeAt() const;
  // Records a probe result taken at `now` (failures inside the grace period
  // do not count until the first success).
  HealthVerdict record(bool success, SteadyTime now);
 private:
  mesos::v1::HealthCheck check_;
  SteadyTime started_;
  SteadyTime next_;
  uint32_t consecutiveFailures_ = 0;
  bool everHealthy_ = false;
  std::optional<bool> lastReported_;
};

// One HTTP probe: GET scheme://<ip>:<port><path>; success if the status is
// in `statuses` (default 200-399). Times out after `timeout`.
Status probeHttp(const std::string& ip, const mesos::v1::HealthCheck::HTTPCheckInfo& http,
                 std::chrono::milliseconds timeout);
// One TCP probe: success if a connection to <ip>:<port> is accepted.
Status probeTcp(const std::string& ip, uint32_t port, std::chrono::milliseconds timeout);
// One command probe, run with `runner` (the agent runs it inside the task's
// container, with `nucleo exec`); success if it exits 0 within `timeout`.
using CommandRunner = std::function<Result<int>(const mesos::v1::CommandInfo&,
                                                std::chrono::milliseconds timeout)>;
Status probeCommand(const mesos::v1::CommandInfo& command, const CommandRunner& runner,
                    std::chrono::milliseconds timeout);

}  // namespace nucleo::agent
