#pragma once
// Mesos health checks (TaskInfo.health_check): COMMAND, HTTP and TCP, with
// delay, interval, timeout, grace period and consecutive failures. A pure
// state machine (HealthCheckState) fed with check results and a clock, plus
// the probes themselves. The agent runs probes for a task and turns state
// changes into TaskStatus updates with `healthy` set and
// REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

using SteadyTime = std::chrono::steady_clock::time_point;

// Validates a HealthCheck as Mesos does (type set and matching its info,
// ports in 1-65535, http scheme/path/statuses, non-negative durations, and
// positive interval and timeout); the error (EINVAL) names the field.
Status validateHealthCheck(const mesos::v1::HealthCheck& check);

// What happened after one probe result.
struct HealthVerdict {
  // Set when an update must be sent: the first counted result, and every
  // change of healthy after it. (Mesos's executors also resend unhealthy on
  // each further failure; an unchanged value sends nothing here.)
  std::optional<bool> healthyChanged;
  bool killTask = false;  // consecutive_failures reached after the grace period
};

class HealthCheckState {
 public:
  HealthCheckState(const mesos::v1::HealthCheck& check, SteadyTime taskStarted);
  // When the next probe is due (delay first, then every interval).
  SteadyTime nextProbeAt() const;
  // Records a probe result taken at `now` and schedules the next probe at
  // now + interval. Until the first success, failures within
  // grace_period_seconds of the task's start are ignored (no update, not
  // counted); killTask is set once consecutive_failures counted failures
  // follow each other, and on every failure after that.
  HealthVerdict record(bool success, SteadyTime now);
  // timeout_seconds, for the probe.
  std::chrono::milliseconds probeTimeout() const;
  uint32_t consecutiveFailures() const { return consecutiveFailures_; }
 private:
  mesos::v1::HealthCheck check_;
  SteadyTime started_;
  SteadyTime next_;
  uint32_t consecutiveFailures_ = 0;
  bool everHealthy_ = false;
  std::optional<bool> lastReported_;
};

// One HTTP probe: GET scheme://<ip>:<port><path> (HTTP/1.1, only the status
// line read; https without certificate checks, as Mesos's `curl -k`);
// success if the status is in `statuses` (default 200-399). The whole probe
// times out after `timeout`. Errors name the URL and the cause.
Status probeHttp(const std::string& ip, const mesos::v1::HealthCheck::HTTPCheckInfo& http,
                 std::chrono::milliseconds timeout);
// One TCP probe: success if a connection to <ip>:<port> (a numeric IPv4 or
// IPv6 address) is accepted within `timeout`.
Status probeTcp(const std::string& ip, uint32_t port, std::chrono::milliseconds timeout);
// One command probe, run with `runner` (the agent runs it inside the task's
// container, with `nucleo exec`); success if it exits 0 within `timeout`.
using CommandRunner = std::function<Result<int>(const mesos::v1::CommandInfo&,
                                                std::chrono::milliseconds timeout)>;
Status probeCommand(const mesos::v1::CommandInfo& command, const CommandRunner& runner,
                    std::chrono::milliseconds timeout);
// One probe of the kind `check` names (validated), with its timeout_seconds:
// HTTP and TCP against `ip` (the task's address; "127.0.0.1" or "::1" when it
// shares the host's network), COMMAND through `runner`.
Status runProbe(const mesos::v1::HealthCheck& check, const std::string& ip,
                const CommandRunner& runner);

// A CommandRunner on the host (no container): /bin/sh -c value, or value with
// `arguments` as argv; the agent's environment plus command.environment.
// Returns the exit status (128+N for signal N); past `timeout` the process
// group is killed and the error is ETIMEDOUT.
Result<int> runHostCommand(const mesos::v1::CommandInfo& command,
                           std::chrono::milliseconds timeout);

}  // namespace nucleo::agent
