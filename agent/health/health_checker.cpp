#include "agent/health/health_checker.hpp"

#include <cmath>

#include <fmt/format.h>

namespace nucleo::agent {
namespace {

using mesos::v1::HealthCheck;

SteadyTime::duration seconds(double s) {
  return std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(s));
}

Status nonNegative(const char* field, double value) {
  if (!std::isfinite(value) || value < 0)
    return Error{EINVAL, fmt::format("health_check.{}: {} is not a non-negative number", field, value)};
  return ok();
}

Status validPort(const char* field, uint32_t port, bool present) {
  if (!present) return Error{EINVAL, fmt::format("health_check.{}.port: missing", field)};
  if (port == 0 || port > 65535)
    return Error{EINVAL, fmt::format("health_check.{}.port: {} is not in 1-65535", field, port)};
  return ok();
}

Status validateHttp(const HealthCheck::HTTPCheckInfo& http) {
  TRY(validPort("http", http.port(), http.has_port()));
  if (http.has_scheme() && http.scheme() != "http" && http.scheme() != "https")
    return Error{EINVAL, fmt::format("health_check.http.scheme: '{}' is not http or https", http.scheme())};
  if (http.has_path() && (http.path().empty() || http.path().front() != '/'))
    return Error{EINVAL, fmt::format("health_check.http.path: '{}' does not start with '/'", http.path())};
  for (auto status : http.statuses())
    if (status < 100 || status > 599)
      return Error{EINVAL, fmt::format("health_check.http.statuses: {} is not an HTTP status", status)};
  return ok();
}

}  // namespace

Status validateHealthCheck(const HealthCheck& check) {
  TRY(nonNegative("delay_seconds", check.delay_seconds()));
  TRY(nonNegative("interval_seconds", check.interval_seconds()));
  TRY(nonNegative("timeout_seconds", check.timeout_seconds()));
  TRY(nonNegative("grace_period_seconds", check.grace_period_seconds()));
  // Zero would mean probing in a busy loop, or probes that cannot succeed.
  if (check.interval_seconds() == 0)
    return Error{EINVAL, "health_check.interval_seconds: must be positive"};
  if (check.timeout_seconds() == 0)
    return Error{EINVAL, "health_check.timeout_seconds: must be positive"};
  switch (check.type()) {
    case HealthCheck::COMMAND:
      if (!check.has_command())
        return Error{EINVAL, "health_check.command: missing for a COMMAND health check"};
      if (check.command().value().empty())
        return Error{EINVAL, "health_check.command.value: missing"};
      return ok();
    case HealthCheck::HTTP:
      if (!check.has_http())
        return Error{EINVAL, "health_check.http: missing for an HTTP health check"};
      return validateHttp(check.http());
    case HealthCheck::TCP:
      if (!check.has_tcp()) return Error{EINVAL, "health_check.tcp: missing for a TCP health check"};
      return validPort("tcp", check.tcp().port(), check.tcp().has_port());
    default:
      return Error{EINVAL, "health_check.type: missing or UNKNOWN"};
  }
}

HealthCheckState::HealthCheckState(const HealthCheck& check, SteadyTime taskStarted)
    : check_(check), started_(taskStarted), next_(taskStarted + seconds(check.delay_seconds())) {}

SteadyTime HealthCheckState::nextProbeAt() const { return next_; }

std::chrono::milliseconds HealthCheckState::probeTimeout() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seconds(check_.timeout_seconds()));
}

HealthVerdict HealthCheckState::record(bool success, SteadyTime now) {
  next_ = now + seconds(check_.interval_seconds());
  HealthVerdict verdict;
  if (success) {
    everHealthy_ = true;
    consecutiveFailures_ = 0;
  } else {
    // Mesos: while the task has never been healthy, failures inside the
    // grace period (counted from the task's start) are ignored.
    if (!everHealthy_ && now - started_ <= seconds(check_.grace_period_seconds())) return verdict;
    ++consecutiveFailures_;
    verdict.killTask = consecutiveFailures_ >= check_.consecutive_failures();
  }
  if (!lastReported_ || *lastReported_ != success) {
    verdict.healthyChanged = success;
    lastReported_ = success;
  }
  return verdict;
}

}  // namespace nucleo::agent
