#include "framework/base/parker.h"

#include "framework/base/futex.h"

namespace troupe {

void FutexParker::Park(absl::Duration timeout) {
  // A pending notification is consumed without sleeping.
  uint32_t expected = kNotified;
  if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return;
  if (timeout <= absl::ZeroDuration()) return;
  expected = kEmpty;
  if (!state_.compare_exchange_strong(expected, kParked, std::memory_order_acquire)) {
    state_.store(kEmpty, std::memory_order_release);  // it was kNotified: consume it
    return;
  }
  FutexWait(&state_, kParked, timeout);
  // Woken, timed out or spurious: leave kEmpty either way (a notification is consumed).
  state_.exchange(kEmpty, std::memory_order_acquire);
}

void FutexParker::Unpark() {
  if (state_.exchange(kNotified, std::memory_order_release) == kParked) FutexWakeOne(&state_);
}

}  // namespace troupe
