// Scheduler: runs Schedulables in turns and services timers.
//
// Two implementations: WorkStealingScheduler (production: one worker thread per core) and
// DeterministicScheduler (framework/testing: one thread, step by step, manual clock).
//
// Thread safety: Schedule(), AddTimer(), Now(), IsWorkerThread(), stats(), AddWorkerSource(),
// RemoveWorkerSource() and WakeWorker() from any thread (RemoveWorkerSource not from within the
// source's own calls, which it waits for). Shutdown() from a thread that is not one of the
// scheduler's workers.
#ifndef FRAMEWORK_SCHEDULER_SCHEDULER_H_
#define FRAMEWORK_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "framework/metrics/metrics.h"
#include "framework/scheduler/schedulable.h"
#include "framework/scheduler/worker_source.h"
#include "framework/timer/timer_queue.h"

namespace troupe {

// Counters since start. Read without stopping the workers, so a snapshot is approximate.
struct SchedulerStats {
  uint64_t turns = 0;       // Schedulable::Run calls
  uint64_t lifo_turns = 0;  // turns taken from a worker's LIFO slot
  uint64_t steals = 0;      // successful steal operations
  uint64_t stolen = 0;      // items moved by them
  uint64_t injected = 0;    // items taken from the injection queue
  uint64_t overflows = 0;   // local run queue overflows into the injection queue
  uint64_t sent_home = 0;   // schedules of a homed Schedulable handed to its home worker
  uint64_t spilled = 0;     // homed Schedulables made stealable by an overloaded home worker
  uint64_t take_overs = 0;  // times a worker drove a stalled worker's I/O (take_over_after)
  uint64_t taken_over_turns = 0;  // turns of homed Schedulables run by a worker taking over
  uint64_t parks = 0;       // times a worker went to sleep
  uint64_t timers_fired = 0;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Makes `s` runnable; its Run() is called later on some worker. `s` must not already be
  // queued and must stay alive until its turn has run.
  virtual void Schedule(Schedulable* s) = 0;

  // Runs `callback` on a scheduler thread at `deadline` (then every `period` if > 0).
  virtual TimerHandle AddTimer(absl::Time deadline, absl::Duration period,
                               absl::AnyInvocable<void()> callback) = 0;

  // The scheduler's notion of now (monotonic, or a manual clock in tests).
  virtual absl::Time Now() const = 0;

  // True if the calling thread runs this scheduler's turns: code there must never block.
  virtual bool IsWorkerThread() const = 0;
  // The index (0..num_workers()-1) of the calling worker thread, or -1 if it is not one; the
  // value for Schedulable::SetHomeWorker. A scheduler without worker threads returns -1.
  virtual int CurrentWorker() const { return -1; }

  // Stops the workers after their current turn, joins them and drops pending timers. Queued
  // work that has not run is abandoned (the ActorSystem stops every actor before this).
  virtual void Shutdown() = 0;

  // Blocks the calling thread (never a worker) until `done()` holds. A scheduler whose turns
  // run on the caller's thread (the deterministic one) runs them meanwhile.
  virtual void RunUntil(const std::function<bool()>& done) = 0;
  // True if turns run only on the thread that drives the scheduler (the deterministic one, a
  // simulation): a caller waiting for an actor must drive it (RunUntil) instead of blocking.
  virtual bool RunsTurnsOnCaller() const { return false; }

  // Worker sources (worker_source.h): polled by every worker from now on, until removed.
  // RemoveWorkerSource returns once no worker is inside any of the source's calls. A scheduler
  // without worker threads refuses them (AddWorkerSource returns false).
  virtual bool AddWorkerSource(WorkerSource* source) {
    (void)source;
    return false;
  }
  virtual void RemoveWorkerSource(WorkerSource* source) { (void)source; }
  // Wakes worker `w` if it is parked (for a WorkerSource between Parking and Resumed).
  virtual void WakeWorker(int w) { (void)w; }

  virtual SchedulerStats stats() const = 0;
  // Its metrics (per worker figures, turn durations, scheduling delay, slow turns), at scrape
  // time; a scheduler without workers has none.
  virtual void CollectMetrics(metrics::Collection& out) const { (void)out; }
  virtual int num_workers() const = 0;
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_SCHEDULER_H_
