// FutexWait / FutexWakeOne: the Linux futex calls on a 32-bit atomic, for Parkers that sleep
// on a word of their own state (framework/base/parker.cc, io/io_service.cc).
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

}  // namespace troupe

#endif  // FRAMEWORK_BASE_FUTEX_H_
