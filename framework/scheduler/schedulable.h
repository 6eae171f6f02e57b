// Schedulable: a unit of work a Scheduler runs in turns (an actor, in practice).
//
// The scheduler never owns a Schedulable: whoever schedules it guarantees it stays alive until
// its turn has run (actors are kept alive by their parent until their last turn). A
// Schedulable is in at most one queue at a time; `next_scheduled` is that queue's link.
#ifndef FRAMEWORK_SCHEDULER_SCHEDULABLE_H_
#define FRAMEWORK_SCHEDULER_SCHEDULABLE_H_

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

 protected:
  ~Schedulable() = default;
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_SCHEDULABLE_H_
