#include "framework/scheduler/idle_set.h"

#include <algorithm>

namespace troupe {

IdleSet::IdleSet(int num_workers)
    : num_workers_(num_workers), state_(static_cast<uint32_t>(num_workers) << 16) {
  sleepers_.reserve(num_workers);
}

bool IdleSet::TryStartSearching() {
  const uint32_t s = state_.load(std::memory_order_seq_cst);
  if (2 * Searching(s) >= num_workers_) return false;
  state_.fetch_add(kOneSearching, std::memory_order_seq_cst);
  return true;
}

bool IdleSet::StopSearching() {
  const uint32_t prev = state_.fetch_sub(kOneSearching, std::memory_order_seq_cst);
  return Searching(prev) == 1;
}

int IdleSet::PopSleeperToWake(bool force) {
  // A read-modify-write (not a plain load), as tokio does: it is ordered with the parking
  // worker's RMW in Park(), so either we see that worker asleep, or it sees the work we
  // published before calling this when it re-checks the queues.
  uint32_t s = state_.fetch_add(0, std::memory_order_seq_cst);
  if (!force && (Searching(s) != 0 || Awake(s) >= num_workers_)) return -1;
  MutexLock lock(&mu_);
  s = state_.load(std::memory_order_seq_cst);
  if (!force && Searching(s) != 0) return -1;
  if (sleepers_.empty()) return -1;
  const int worker = sleepers_.back();
  sleepers_.pop_back();
  state_.fetch_add(kOneSearching | kOneAwake, std::memory_order_seq_cst);
  return worker;
}

bool IdleSet::Park(int worker, bool was_searching) {
  MutexLock lock(&mu_);
  const uint32_t dec = kOneAwake | (was_searching ? kOneSearching : 0);
  const uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
  sleepers_.push_back(worker);
  return was_searching && Searching(prev) == 1;
}

bool IdleSet::Unparked(int worker) {
  MutexLock lock(&mu_);
  auto it = std::find(sleepers_.begin(), sleepers_.end(), worker);
  if (it == sleepers_.end()) return true;  // popped by a waker, who counted us as searching
  sleepers_.erase(it);
  state_.fetch_add(kOneAwake, std::memory_order_seq_cst);
  return false;
}

}  // namespace troupe
