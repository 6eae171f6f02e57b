// TimerQueue: the scheduler's timers - delayed and periodic callbacks - in one min-heap.
//
// Workers (or the deterministic test scheduler) call FireDue() on their loop turns and park no
// longer than NextDeadline(); no thread is dedicated to timers. Callbacks run on the thread that
// calls FireDue(), outside the queue's lock, so they may add or cancel timers. They must be
// short (in troupe they only send a message).
//
// Cancellation is lazy: a cancelled entry stays in the heap until its deadline, or until
// cancelled entries make up more than half of a large heap, which is then compacted. So memory
// stays proportional to the live timers even when most timers are cancelled (an ask's timeout
// is cancelled by its reply). Timers with equal deadlines fire in the order they were added.
//
// Thread safety: all methods from any thread. TimerHandle is a cheap, copyable, thread-safe
// handle; it may outlive the queue.
#ifndef FRAMEWORK_TIMER_TIMER_QUEUE_H_
#define FRAMEWORK_TIMER_TIMER_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "framework/base/mutex.h"

namespace troupe {

namespace internal {
struct TimerEntry;
// Shared by a queue and its entries, so a handle that outlives the queue can still cancel.
struct TimerQueueCounters {
  // Cancelled entries still in the heap. A heuristic for compaction: a Cancel() racing with a
  // Clear() may leave it off by a few, never unsafe.
  std::atomic<int64_t> cancelled{0};
};
}  // namespace internal

class TimerHandle {
 public:
  TimerHandle() = default;
  // Stops future firings. Returns true if this call cancelled a timer that had not yet fired
  // (for a periodic timer: that was still active). Safe to call repeatedly, from any thread.
  bool Cancel();
  // True if the timer may still fire.
  bool active() const;

 private:
  friend class TimerQueue;
  explicit TimerHandle(std::shared_ptr<internal::TimerEntry> entry) : entry_(std::move(entry)) {}
  std::shared_ptr<internal::TimerEntry> entry_;
};

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `callback` at `deadline`, then every `period` after it if `period` > 0.
  // `earliest_changed` (optional) is set to true if this timer is now the first to fire, i.e.
  // a sleeping worker must re-arm its wait.
  TimerHandle Add(absl::Time deadline, absl::Duration period, absl::AnyInvocable<void()> callback,
                  bool* earliest_changed = nullptr);

  // Runs every timer whose deadline is <= now. Returns how many callbacks ran.
  int FireDue(absl::Time now);

  // Deadline of the earliest pending entry (possibly cancelled), InfiniteFuture() if none.
  // Lock-free.
  absl::Time NextDeadline() const;

  // Drops every timer without running it (scheduler shutdown). Returns how many were pending.
  size_t Clear();

  size_t Size() const;

 private:
  struct Later {
    bool operator()(const std::shared_ptr<internal::TimerEntry>& a,
                    const std::shared_ptr<internal::TimerEntry>& b) const;
  };
  void PublishNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  std::vector<std::shared_ptr<internal::TimerEntry>> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> next_deadline_ns_{INT64_MAX};
  const std::shared_ptr<internal::TimerQueueCounters> counters_ =
      std::make_shared<internal::TimerQueueCounters>();
};

}  // namespace troupe

#endif  // FRAMEWORK_TIMER_TIMER_QUEUE_H_
