#include "framework/base/parker.h"

#include "framework/base/futex.h"

namespace troupe {

void FutexParker::Park(absl::Duration timeout) {
  // A pending notification is consumed without sleeping.
  uint32_t expected = kNotified;
  if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return;
  if (timeout <= absl::ZeroDuration()) return;
  FutexPark(&state_, kEmpty, kParked, timeout);
}

void FutexParker::Unpark() {
  if (state_.exchange(kNotified, std::memory_order_release) == kParked) FutexWakeOne(&state_);
}

}  // namespace troupe
