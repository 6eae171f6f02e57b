// Schedulable: a unit of work a Scheduler runs in turns (an actor, in practice).
//
// The scheduler never owns a Schedulable: whoever schedules it guarantees it stays alive until
// its turn has run (actors are kept alive by their parent until their last turn). A
// Schedulable is in at most one queue at a time; `next_scheduled` is that queue's link.
//
// A Schedulable may have a home worker (SetHomeWorker): the worker whose I/O backend owns its
// socket. The scheduler then runs it there unless that worker is overloaded (see
// WorkStealingScheduler), so its reads and writes need no hand-off between threads.
#ifndef FRAMEWORK_SCHEDULER_SCHEDULABLE_H_
#define FRAMEWORK_SCHEDULER_SCHEDULABLE_H_

#include <atomic>
#include <cstdint>

namespace troupe {

enum class RunOutcome {
  kIdle,   // nothing left to do: forget it until someone schedules it again
  kYield,  // budget used up with work remaining: run it again later (back of the queue)
  kDone,   // finished for good (an actor that stopped); it may already be freed
};

class Schedulable {
 public:
  // Runs one turn of at most `budget` units of work. Called by one thread at a time.
  virtual RunOutcome Run(int budget) = 0;

  Schedulable* next_scheduled = nullptr;  // owned by the queue holding this

  // The worker index this prefers to run on, or -1 (anywhere). Any thread; the latest call
  // wins (an actor with sockets on two workers is homed where it started the last one).
  void SetHomeWorker(int worker) {
    home_worker_.store(static_cast<int16_t>(worker), std::memory_order_relaxed);
  }
  int home_worker() const { return home_worker_.load(std::memory_order_relaxed); }

 protected:
  ~Schedulable() = default;

 private:
  std::atomic<int16_t> home_worker_{-1};
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_SCHEDULABLE_H_
