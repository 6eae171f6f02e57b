#include "framework/base/clock.h"

#include <time.h>

namespace troupe {

absl::Time MonotonicClock::Now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

absl::Time ManualClock::Advance(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return Now();
  const int64_t by = absl::ToInt64Nanoseconds(d);
  return absl::FromUnixNanos(now_ns_.fetch_add(by, std::memory_order_acq_rel) + by);
}

absl::Time ManualClock::Set(absl::Time t) {
  const int64_t to = absl::ToUnixNanos(t);
  int64_t now = now_ns_.load(std::memory_order_acquire);
  while (now < to && !now_ns_.compare_exchange_weak(now, to, std::memory_order_acq_rel)) {
  }
  return absl::FromUnixNanos(now < to ? to : now);
}

const MonotonicClock& MonotonicClock::Get() {
  static const MonotonicClock* clock = new MonotonicClock();
  return *clock;
}

}  // namespace troupe
