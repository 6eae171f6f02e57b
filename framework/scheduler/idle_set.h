// IdleSet: which workers are asleep and how many are searching for work (after tokio's
// idle.rs). It decides whether new work should wake a sleeping worker, and wakes at most one at a
// time: a woken worker counts as searching, and while any worker searches nobody else is woken.
// The last searcher to give up re-checks every queue before it sleeps, so no work is stranded.
//
// Thread safety: all methods from any thread.
#ifndef FRAMEWORK_SCHEDULER_IDLE_SET_H_
#define FRAMEWORK_SCHEDULER_IDLE_SET_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "framework/base/mutex.h"

namespace troupe {

class IdleSet {
 public:
  explicit IdleSet(int num_workers);

  // A worker wants to search (steal). False if enough workers already search (at most half).
  bool TryStartSearching();
  // A searching worker found work. True if it was the last searcher: it must then wake another
  // worker (NeedsWaker/PopSleeper) so searching continues while work remains.
  bool StopSearching();

  // New work exists: returns the index of a sleeping worker the caller must Unpark(), or -1.
  // With `force`, a sleeper is returned even if a worker is searching (timer re-arming).
  int PopSleeperToWake(bool force = false);

  // A worker goes to sleep. True if it was the last searcher: it must re-check all queues.
  bool Park(int worker, bool was_searching);
  // A worker woke. True if it was woken on purpose (it now counts as searching); false for a
  // timeout or spurious wake-up (it is now counted as awake and not searching).
  bool Unparked(int worker);

 private:
  static int Searching(uint32_t s) { return static_cast<int>(s & 0xFFFF); }
  static int Awake(uint32_t s) { return static_cast<int>(s >> 16); }
  static constexpr uint32_t kOneSearching = 1;
  static constexpr uint32_t kOneAwake = 1u << 16;

  const int num_workers_;
  std::atomic<uint32_t> state_;  // awake << 16 | searching
  // Workers registered as sleepers. Changes only when a worker parks or is woken, so the check
  // every new piece of work makes stays in the notifying core's cache, unlike state_, which
  // searching workers update constantly.
  alignas(64) std::atomic<int> num_sleeping_{0};
  Mutex mu_;
  std::vector<int> sleepers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_IDLE_SET_H_
