#include "framework/base/parker.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace troupe {
namespace {

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, absl::Duration timeout) {
  timespec ts;
  timespec* tsp = nullptr;
  if (timeout != absl::InfiniteDuration()) {
    ts = absl::ToTimespec(timeout);
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr,
          0);
}

void FutexWakeOne(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

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
