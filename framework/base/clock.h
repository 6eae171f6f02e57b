// Clock: the time source timers and deadlines are measured against.
//
// Times are monotonic (CLOCK_MONOTONIC mapped into absl::Time): compare them only with other
// values from the same Clock, never with wall time. The deterministic test scheduler swaps in
// a ManualClock (framework/testing) so timer behaviour is tested without sleeping.
//
// Thread safety: Now() may be called from any thread.
#ifndef FRAMEWORK_BASE_CLOCK_H_
#define FRAMEWORK_BASE_CLOCK_H_

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

}  // namespace troupe

#endif  // FRAMEWORK_BASE_CLOCK_H_
