#include "framework/base/clock.h"

#include <time.h>

namespace troupe {

absl::Time MonotonicClock::Now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

const MonotonicClock& MonotonicClock::Get() {
  static const MonotonicClock* clock = new MonotonicClock();
  return *clock;
}

}  // namespace troupe
