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
  // Read-modify-writes (not plain loads), as tokio does: they are ordered with the parking
  // worker's RMWs in Park(), so either we see that worker asleep, or it sees the work we
  // published before calling this when it re-checks the queues.
  if (num_sleeping_.fetch_add(0, std::memory_order_seq_cst) == 0) return -1;
  uint32_t s = state_.fetch_add(0, std::memory_order_seq_cst);
  if (!force && (Searching(s) != 0 || Awake(s) >= num_workers_)) return -1;
  MutexLock lock(&mu_);
  s = state_.load(std::memory_order_seq_cst);
  if (!force && Searching(s) != 0) return -1;
  if (sleepers_.empty()) return -1;
  const int worker = sleepers_.back();
  sleepers_.pop_back();
  num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
  state_.fetch_add(kOneSearching | kOneAwake, std::memory_order_seq_cst);
  return worker;
}

bool IdleSet::Park(int worker, bool was_searching) {
  MutexLock lock(&mu_);
  const uint32_t dec = kOneAwake | (was_searching ? kOneSearching : 0);
  sleepers_.push_back(worker);
  num_sleeping_.fetch_add(1, std::memory_order_seq_cst);
  const uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
  return was_searching && Searching(prev) == 1;
}

bool IdleSet::Unparked(int worker) {
  MutexLock lock(&mu_);
  auto it = std::find(sleepers_.begin(), sleepers_.end(), worker);
  if (it == sleepers_.end()) return true;  // popped by a waker, who counted us as searching
  sleepers_.erase(it);
  num_sleeping_.fetch_sub(1, std::memory_order_seq_cst);
  state_.fetch_add(kOneAwake, std::memory_order_seq_cst);
  return false;
}

}  // namespace troupe
