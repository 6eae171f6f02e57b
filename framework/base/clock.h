// Clock: the time source timers and deadlines are measured against.
//
// Times are monotonic: compare them only with other values from the same Clock, never with
// wall time. MonotonicClock reads CLOCK_MONOTONIC (what the work-stealing scheduler runs on);
// ManualClock moves only when told to (what the deterministic test scheduler runs on, so timer
// behaviour is tested without sleeping; a component that takes a `const Clock*` can share it).
//
// Thread safety: Now() may be called from any thread; so may ManualClock's Advance and Set.
#ifndef FRAMEWORK_BASE_CLOCK_H_
#define FRAMEWORK_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace troupe {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The process-wide monotonic clock.
class MonotonicClock final : public Clock {
 public:
  absl::Time Now() const override;
  // A shared instance; never destroyed.
  static const MonotonicClock& Get();
};

// A clock that stands still until Advance or Set moves it (never backwards).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'000'000))
      : now_ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override {
    return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
  }
  // Moves the clock forward by `d` (a negative `d` is ignored); returns the new time.
  absl::Time Advance(absl::Duration d);
  // Moves the clock to `t`, if that is later than now; returns the new time.
  absl::Time Set(absl::Time t);

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace troupe

#endif  // FRAMEWORK_BASE_CLOCK_H_
