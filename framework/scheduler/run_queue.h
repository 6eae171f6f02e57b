// RunQueue: a worker's bounded local queue of runnable work.
//
// The owning worker pushes and pops at either end of a fixed ring without locks; other workers
// steal half of it at once. When the ring is full, Push() moves half of it (and the new item)
// to the overflow sink, the global injection queue, in one batch.
//
// Thread safety: Push(), Pop() and StealInto()'s destination are owner only; StealInto() may be
// called on this queue (as the victim) from any thread; Size() is approximate from any thread.
#ifndef FRAMEWORK_SCHEDULER_RUN_QUEUE_H_
#define FRAMEWORK_SCHEDULER_RUN_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "framework/scheduler/schedulable.h"

namespace troupe {

class RunQueue {
 public:
  // `capacity` must be a power of two; 256 by default (as in Go and tokio). Tests shrink it so
  // overflow and steal paths run.
  explicit RunQueue(uint32_t capacity = 256);
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

  // Owner only. On overflow returns a chain (linked by next_scheduled, oldest first) of the
  // items the caller must move elsewhere, else nullptr.
  [[nodiscard]] Schedulable* Push(Schedulable* item);

  // Owner only. Oldest first; nullptr when empty.
  Schedulable* Pop();

  // Any thread (the thief, owner of `dst`, which must be empty). Moves half of this queue into
  // `dst` and returns one of the stolen items to run now, or nullptr if there was nothing.
  Schedulable* StealInto(RunQueue& dst);

  uint32_t Size() const;
  uint32_t capacity() const { return capacity_; }

 private:
  uint32_t capacity_;
  uint32_t mask_;
  std::unique_ptr<std::atomic<Schedulable*>[]> slots_;
  alignas(64) std::atomic<uint32_t> head_{0};  // consumers (owner pop, thieves) CAS it
  alignas(64) std::atomic<uint32_t> tail_{0};  // written by the owner only
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_RUN_QUEUE_H_
