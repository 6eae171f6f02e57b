// InjectionQueue: the global FIFO that threads outside the scheduler (and overflowing run
// queues) hand work to. Workers take from it when their own queues are empty, and every
// kInjectionCheckInterval turns regardless, so injected work is never starved. Each worker
// also has one as its inbox: work homed on it, scheduled from other threads.
//
// Thread safety: all methods from any thread (a short mutex; Empty() is lock-free).
#ifndef FRAMEWORK_SCHEDULER_INJECTION_QUEUE_H_
#define FRAMEWORK_SCHEDULER_INJECTION_QUEUE_H_

#include <atomic>
#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "framework/base/mutex.h"
#include "framework/scheduler/schedulable.h"

namespace troupe {

class InjectionQueue {
 public:
  void Push(Schedulable* item);
  // Appends a chain linked by next_scheduled (as returned by RunQueue::Push on overflow).
  void PushChain(Schedulable* first);
  // nullptr when empty.
  Schedulable* Pop();
  // Everything queued, as a chain linked by next_scheduled (nullptr when empty).
  Schedulable* TakeAll();
  bool Empty() const { return size_.load(std::memory_order_acquire) == 0; }
  size_t Size() const { return size_.load(std::memory_order_acquire); }

 private:
  Mutex mu_;
  Schedulable* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  Schedulable* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::atomic<size_t> size_{0};
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_INJECTION_QUEUE_H_
