#include "framework/timer/timer_queue.h"

#include <algorithm>
#include <utility>

namespace troupe {
namespace internal {

struct TimerEntry {
  absl::Time deadline;
  absl::Duration period;
  uint64_t seq = 0;
  absl::AnyInvocable<void()> callback;  // touched only by the thread that popped the entry
  // kPending -> kFired (a one-shot timer ran) or kPending -> kCancelled; each by CAS, so a
  // Cancel() that returns true guarantees the callback does not run afterwards.
  enum State : int { kPending, kFired, kCancelled };
  std::atomic<int> state{kPending};
};

}  // namespace internal

using internal::TimerEntry;

bool TimerHandle::Cancel() {
  if (entry_ == nullptr) return false;
  int expected = TimerEntry::kPending;
  return entry_->state.compare_exchange_strong(expected, TimerEntry::kCancelled,
                                               std::memory_order_acq_rel);
}

bool TimerHandle::active() const {
  return entry_ != nullptr &&
         entry_->state.load(std::memory_order_acquire) == TimerEntry::kPending;
}

bool TimerQueue::Later::operator()(const std::shared_ptr<TimerEntry>& a,
                                   const std::shared_ptr<TimerEntry>& b) const {
  if (a->deadline != b->deadline) return a->deadline > b->deadline;
  return a->seq > b->seq;
}

void TimerQueue::PublishNextLocked() {
  const int64_t next = heap_.empty() ? INT64_MAX : absl::ToUnixNanos(heap_.front()->deadline);
  next_deadline_ns_.store(next, std::memory_order_release);
}

TimerHandle TimerQueue::Add(absl::Time deadline, absl::Duration period,
                            absl::AnyInvocable<void()> callback, bool* earliest_changed) {
  auto entry = std::make_shared<TimerEntry>();
  entry->deadline = deadline;
  entry->period = period;
  entry->callback = std::move(callback);
  MutexLock lock(&mu_);
  entry->seq = next_seq_++;
  heap_.push_back(entry);
  std::push_heap(heap_.begin(), heap_.end(), Later());
  const bool first = heap_.front() == entry;
  if (earliest_changed != nullptr) *earliest_changed = first;
  if (first) PublishNextLocked();
  return TimerHandle(std::move(entry));
}

int TimerQueue::FireDue(absl::Time now) {
  if (absl::ToUnixNanos(now) < next_deadline_ns_.load(std::memory_order_acquire)) return 0;
  std::vector<std::shared_ptr<TimerEntry>> due;
  {
    MutexLock lock(&mu_);
    while (!heap_.empty() && heap_.front()->deadline <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), Later());
      due.push_back(std::move(heap_.back()));
      heap_.pop_back();
    }
    PublishNextLocked();
  }
  int fired = 0;
  for (auto& entry : due) {
    const bool periodic = entry->period > absl::ZeroDuration();
    if (periodic) {
      // A periodic timer stays kPending; a Cancel() racing with this firing stops the next.
      if (entry->state.load(std::memory_order_acquire) != TimerEntry::kPending) continue;
    } else {
      int expected = TimerEntry::kPending;
      if (!entry->state.compare_exchange_strong(expected, TimerEntry::kFired,
                                                std::memory_order_acq_rel)) {
        continue;  // cancelled
      }
    }
    entry->callback();
    ++fired;
    if (periodic && entry->state.load(std::memory_order_acquire) == TimerEntry::kPending) {
      // Re-arm from the scheduled deadline (no drift); skip periods that were missed entirely.
      entry->deadline += entry->period;
      if (entry->deadline <= now) {
        const int64_t missed = (now - entry->deadline) / entry->period + 1;
        entry->deadline += entry->period * missed;
      }
      MutexLock lock(&mu_);
      entry->seq = next_seq_++;
      heap_.push_back(std::move(entry));
      std::push_heap(heap_.begin(), heap_.end(), Later());
      PublishNextLocked();
    }
  }
  return fired;
}

absl::Time TimerQueue::NextDeadline() const {
  const int64_t ns = next_deadline_ns_.load(std::memory_order_acquire);
  return ns == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixNanos(ns);
}

size_t TimerQueue::Clear() {
  std::vector<std::shared_ptr<TimerEntry>> dropped;
  {
    MutexLock lock(&mu_);
    dropped.swap(heap_);
    PublishNextLocked();
  }
  return dropped.size();  // callbacks are destroyed here, outside the lock
}

size_t TimerQueue::Size() const {
  MutexLock lock(&mu_);
  return heap_.size();
}

}  // namespace troupe
