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
#include <string_view>

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

  // A number that names this Schedulable the same way in every run of the same program (an
  // actor's id: its system spawns in a repeatable order), unlike its address. A simulation
  // picks among runnables by it, so a run repeats even where the code's own iteration order
  // does not (hash maps are seeded per process). 0: none.
  virtual uint64_t stable_id() const { return 0; }

  // The worker index this prefers to run on, or -1 (anywhere). Any thread; the latest call
  // wins (an actor with sockets on two workers is homed where it started the last one).
  void SetHomeWorker(int worker) {
    home_worker_.store(static_cast<int16_t>(worker), std::memory_order_relaxed);
  }
  int home_worker() const { return home_worker_.load(std::memory_order_relaxed); }

  // When it was last made runnable (a sample of schedules, for the scheduling-delay histogram;
  // 0: not sampled). Written by whoever schedules it, read by the worker that runs it next.
  int64_t scheduled_at_ns = 0;

 protected:
  ~Schedulable() = default;

 private:
  std::atomic<int16_t> home_worker_{-1};
};

// What the turn running on a worker is doing - which actor, which message - for the
// blocked-loop detector's reports, read by its watchdog thread while the turn runs. The running
// Schedulable fills it in (ActorCell: its type and id at the start of a turn, each message's
// type before handling it); the names point to static storage (type names), so a report made
// after the actor is gone still reads valid text.
struct TurnActivity {
  // `type` in static storage. The message stays the previous one until SetMessage.
  void SetActor(const std::string_view* type, uint64_t id) {
    actor_type.store(type, std::memory_order_relaxed);
    actor_id.store(id, std::memory_order_relaxed);
  }
  void SetMessage(const std::string_view* type) { message.store(type, std::memory_order_relaxed); }

  std::atomic<const std::string_view*> actor_type{nullptr};
  std::atomic<uint64_t> actor_id{0};
  std::atomic<const std::string_view*> message{nullptr};
};

namespace internal {
inline thread_local TurnActivity* tls_turn_activity = nullptr;
}  // namespace internal

// The calling worker's TurnActivity, or null off the scheduler's worker threads (or when the
// scheduler has no slow- or stuck-turn reports to name its turns in).
inline TurnActivity* CurrentTurnActivity() { return internal::tls_turn_activity; }
// By a worker thread, at its start.
inline void SetCurrentTurnActivity(TurnActivity* activity) {
  internal::tls_turn_activity = activity;
}

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_SCHEDULABLE_H_
