// FutexWait / FutexWakeOne: the Linux futex calls on a 32-bit atomic, and FutexPark on them, for
// Parkers that sleep on a word of their own state (framework/base/parker.cc, io/io_service.cc).
//
// Thread safety: any thread. FutexWait returns when woken, at `timeout`, spuriously, or at once
// if *word != expected; callers re-check their state either way.
#ifndef FRAMEWORK_BASE_FUTEX_H_
#define FRAMEWORK_BASE_FUTEX_H_

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace troupe {

inline void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, absl::Duration timeout) {
  timespec ts;
  timespec* tsp = nullptr;
  if (timeout != absl::InfiniteDuration()) {
    ts = absl::ToTimespec(timeout);
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp, nullptr,
          0);
}

inline void FutexWakeOne(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// A parker's sleep on its state word: moves *state from `empty` to `parked` and sleeps while it
// stays `parked` (until another thread changes it and calls FutexWakeOne, or `timeout`); if
// *state was not `empty` (a notification), sleeps not at all. Returns with *state `empty`
// either way: a notification is consumed.
inline void FutexPark(std::atomic<uint32_t>* state, uint32_t empty, uint32_t parked,
                      absl::Duration timeout) {
  uint32_t expected = empty;
  if (state->compare_exchange_strong(expected, parked, std::memory_order_acquire)) {
    FutexWait(state, parked, timeout);
  }
  state->exchange(empty, std::memory_order_acquire);
}

}  // namespace troupe

#endif  // FRAMEWORK_BASE_FUTEX_H_
