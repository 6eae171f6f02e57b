// WaitFor: polls `done` every 2 ms until it holds or `limit` passes; returns whether it held.
// For tests that wait on real threads and sockets (with the deterministic scheduler, advance
// its clock instead).
//
// Thread safety: `done` runs on the calling thread; it must synchronize with what it reads.
#ifndef FRAMEWORK_TESTING_WAIT_FOR_H_
#define FRAMEWORK_TESTING_WAIT_FOR_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace troupe::testing {

inline bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_WAIT_FOR_H_
