#pragma once
// An injected clock: the allocator, offers and the master read time only
// through it, so tests drive time as libprocess's Clock::advance did.

#include <chrono>

namespace nucleo::master {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The monotonic system clock.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to; starts at an arbitrary fixed point.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1000)};
};

// Seconds as a clock duration; negative and NaN become zero.
inline Clock::Duration seconds(double s) {
  if (!(s > 0)) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

}  // namespace nucleo::master
