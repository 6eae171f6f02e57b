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
  std::shared_ptr<TimerQueueCounters> counters;
};

}  // namespace internal

using internal::TimerEntry;

bool TimerHandle::Cancel() {
  if (entry_ == nullptr) return false;
  int expected = TimerEntry::kPending;
  if (!entry_->state.compare_exchange_strong(expected, TimerEntry::kCancelled,
                                             std::memory_order_acq_rel)) {
    return false;
  }
  entry_->counters->cancelled.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool TimerHandle::active() const {
  return entry_ != nullptr && entry_->state.load(std::memory_order_acquire) == TimerEntry::kPending;
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
  entry->counters = counters_;
  MutexLock lock(&mu_);
  CompactLocked();
  entry->seq = next_seq_++;
  heap_.push_back(entry);
  std::push_heap(heap_.begin(), heap_.end(), Later());
  const bool first = heap_.front() == entry;
  if (earliest_changed != nullptr) *earliest_changed = first;
  if (first) PublishNextLocked();
  return TimerHandle(std::move(entry));
}

void TimerQueue::CompactLocked() {
  constexpr size_t kMinSizeToCompact = 1024;
  const int64_t cancelled = counters_->cancelled.load(std::memory_order_relaxed);
  if (heap_.size() < kMinSizeToCompact || cancelled * 2 < static_cast<int64_t>(heap_.size())) {
    return;
  }
  int64_t removed = 0;
  std::erase_if(heap_, [&removed](const std::shared_ptr<TimerEntry>& e) {
    const bool gone = e->state.load(std::memory_order_acquire) == TimerEntry::kCancelled;
    removed += gone;
    return gone;
  });
  std::make_heap(heap_.begin(), heap_.end(), Later());
  counters_->cancelled.fetch_sub(removed, std::memory_order_relaxed);
  PublishNextLocked();
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
      if (entry->state.load(std::memory_order_acquire) != TimerEntry::kPending) {
        counters_->cancelled.fetch_sub(1, std::memory_order_relaxed);  // left the heap
        continue;
      }
    } else {
      int expected = TimerEntry::kPending;
      if (!entry->state.compare_exchange_strong(expected, TimerEntry::kFired,
                                                std::memory_order_acq_rel)) {
        counters_->cancelled.fetch_sub(1, std::memory_order_relaxed);  // left the heap
        continue;
      }
    }
    entry->callback();
    ++fired;
    if (!periodic) {
      entry->callback = nullptr;  // free what it captured now; handles may keep the entry
      continue;
    }
    if (periodic && entry->state.load(std::memory_order_acquire) != TimerEntry::kPending) {
      counters_->cancelled.fetch_sub(1, std::memory_order_relaxed);  // cancelled by its callback
      continue;
    }
    if (periodic) {
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
    counters_->cancelled.store(0, std::memory_order_relaxed);
    PublishNextLocked();
  }
  return dropped.size();  // callbacks are destroyed here, outside the lock
}

size_t TimerQueue::Size() const {
  MutexLock lock(&mu_);
  return heap_.size();
}

}  // namespace troupe
