#pragma once
// An injected clock: the master (allocator, offers, timeouts) and the agent
// (status update retries) read time only through it, so tests drive time the
// way libprocess's Clock::advance did, without sleeping.

#include <chrono>

namespace nucleo {

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
// Not thread-safe: tests advance it from the thread that reads it.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1000)};
};

}  // namespace nucleo
