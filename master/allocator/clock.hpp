#pragma once
// The master's names for the shared clock (base/clock.hpp), plus the
// conversion of protobuf seconds (failover_timeout, refuse_seconds).

#include <chrono>

#include "base/clock.hpp"

namespace nucleo::master {

using nucleo::Clock;
using nucleo::FakeClock;
using nucleo::SystemClock;

// Seconds as a clock duration; negative and NaN become zero.
inline Clock::Duration seconds(double s) {
  if (!(s > 0)) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

}  // namespace nucleo::master
