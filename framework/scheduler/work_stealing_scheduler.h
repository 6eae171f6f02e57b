// WorkStealingScheduler: the production scheduler - one worker thread per core.
//
// Each worker has a LIFO slot (the Schedulable made runnable by the turn it is running, so a
// reply runs next while its data is hot in cache; never stolen), a bounded local RunQueue that
// idle workers steal half of, a queue of the runnable Schedulables homed on it (never stolen
// unless it is overloaded) with an inbox for those scheduled from other threads, and shares
// one InjectionQueue fed by foreign threads. A worker loop (see the numbered walk in
// work_stealing_scheduler.cc) takes work in this order: the injection queue every
// `injection_interval` turns, the LIFO slot, its run queue and its homed queue (alternately),
// the injection queue, stealing; with nothing found it fires due timers, spins briefly (unless
// its Parker says spinning does not pay: a worker with sockets waits in its I/O backend
// instead), takes over the I/O of a worker that has stalled (take_over_after), then parks in
// its Parker until woken or until the next timer is due. An idle scheduler uses no CPU.
//
// Thread safety: see Scheduler. Construction starts the workers; Shutdown() (or the destructor)
// joins them.
#ifndef FRAMEWORK_SCHEDULER_WORK_STEALING_SCHEDULER_H_
#define FRAMEWORK_SCHEDULER_WORK_STEALING_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "framework/base/clock.h"
#include "framework/base/mutex.h"
#include "framework/scheduler/idle_set.h"
#include "framework/scheduler/injection_queue.h"
#include "framework/base/parker.h"
#include "framework/scheduler/run_queue.h"
#include "framework/scheduler/scheduler.h"
#include "framework/scheduler/turn_monitor.h"
#include "framework/timer/timer_queue.h"

namespace troupe {

// `threads` if positive, else one per core (std::thread::hardware_concurrency, at least 1).
int ThreadsOrOnePerCore(int threads);

struct WorkStealingOptions {
  int threads = 0;                    // 0: one per core (std::thread::hardware_concurrency)
  int budget = 64;                    // units of work (messages) per turn
  uint32_t run_queue_capacity = 256;  // power of two; tests shrink it
  int injection_interval = 61;        // turns between forced injection-queue checks (as Go/tokio)
  int max_lifo_streak = 3;            // LIFO turns in a row before the run queue gets a turn
  absl::Duration spin_before_park = absl::Microseconds(50);  // see ActorSystemOptions
  // A homed Schedulable that has waited this long in its home worker's queue means that worker
  // is overloaded: it then makes half of its homed backlog stealable. See ActorSystemOptions.
  absl::Duration home_max_wait = absl::Milliseconds(1);
  // A worker awake that has not taken work for this long has stalled (a long turn, or the
  // kernel gave its core to another thread): another worker takes its I/O over - polls its
  // backend and runs the actors homed there - until nothing is left there or it is back, then
  // hands it back. Zero: never. Only where its Parker allows (epoll; an io_uring ring is driven
  // by its own thread only). See ActorSystemOptions.
  absl::Duration take_over_after = absl::Microseconds(200);
  // Work a worker makes runnable outside its turns (its I/O's completions, timers, sources'
  // events) wakes a sleeping worker to share it only once it would take longer than this to
  // run here (its queue times the worker's mean turn, turns.enabled only): waking a sleeping
  // vCPU costs ~15 us of CPU and ~40-50 us of latency on these VMs. Zero: always wake. See
  // ActorSystemOptions.
  absl::Duration wake_cost = absl::Microseconds(50);
  // Creates worker i's Parker; default FutexParker. The I/O layer parks in its backend.
  std::function<std::unique_ptr<Parker>(int worker)> parker_factory;
  // Turn timing and the blocked-loop detector (slow and stuck turns): see turn_monitor.h.
  TurnMonitorOptions turns;
};

class WorkStealingScheduler final : public Scheduler {
 public:
  explicit WorkStealingScheduler(WorkStealingOptions options = {});
  ~WorkStealingScheduler() override;

  void Schedule(Schedulable* s) override;
  TimerHandle AddTimer(absl::Time deadline, absl::Duration period,
                       absl::AnyInvocable<void()> callback) override;
  absl::Time Now() const override { return clock_->Now(); }
  bool IsWorkerThread() const override;
  int CurrentWorker() const override;
  void Shutdown() override;
  void RunUntil(const std::function<bool()>& done) override;
  SchedulerStats stats() const override;
  void CollectMetrics(metrics::Collection& out) const override;
  const TurnMonitor& turn_monitor() const { return monitor_; }
  int num_workers() const override { return static_cast<int>(workers_.size()); }
  bool AddWorkerSource(WorkerSource* source) override;
  void RemoveWorkerSource(WorkerSource* source) override;
  void WakeWorker(int w) override;

 private:
  struct Worker;

  void WorkerLoop(Worker& w);
  Schedulable* NextLocal(Worker& w);
  Schedulable* Search(Worker& w);
  void RunTurn(Worker& w, Schedulable* s);
  // kWhenWorthIt: work made runnable outside a turn (options_.wake_cost).
  enum class Wake { kAlways, kWhenWorthIt };
  void PushLocal(Worker& w, Schedulable* s, Wake wake = Wake::kAlways);
  bool WorthWaking(const Worker& w) const;
  void SendHome(int home, Schedulable* s);
  Schedulable* PopHomed(Worker& w);
  Schedulable* TakeHomed(Worker& w);  // the homed queue's lock held
  // The homed queue's lock (only with take-overs on; otherwise its worker's alone): false if
  // another worker has it.
  bool LockHomed(Worker& v);
  void UnlockHomed(Worker& v);
  void SpillIfOverloaded(Worker& w);
  bool FireTimers(Worker& w);
  // Takes over the I/O of every worker seen stalled (see take_over_after); true if that ran
  // anything.
  bool TakeOverStalled(Worker& w);
  int RunTakenOver(Worker& w, Worker& stalled);  // with its homed lock and backend held
  int64_t NowNs() const { return absl::ToUnixNanos(clock_->Now()); }
  // Whether `v` (not `w`) is awake, has I/O another worker may drive, and has not taken work
  // for take_over_after.
  bool Stalled(const Worker& w, const Worker& v) const;
  bool AnyStalled(const Worker& w) const;  // any worker but `w`
  // The TurnMonitor's watchdog saw `worker` in one long turn: wakes a parked worker to help.
  void OnLongTurn(int worker);
  bool SpinForWork(Worker& w);
  template <typename F>
  void ForEachSource(Worker& w, F f);  // f(WorkerSource&) for each, under the in_sources flag
  bool PollSources(Worker& w, bool idle);
  bool SourcesLetSpin(Worker& w);
  // Parking(w) on every source; false (and Resumed on those told) if one has work waiting.
  bool SourcesLetPark(Worker& w);
  void SourcesResumed(Worker& w);
  void Park(Worker& w);
  bool AnyWorkVisible() const;
  void WakeOne(bool force = false);

  const WorkStealingOptions options_;
  const Clock* clock_;  // MonotonicClock: timers, spinning before parking and homing read it
  // take_over_after > 0, more than one worker, and a Parker that may be taken over. Set by the
  // constructor before the workers start.
  bool take_over_ = false;
  std::atomic<bool> started_{false};  // the workers exist (for the watchdog's OnLongTurn)
  const int64_t take_over_after_ns_;
  const int64_t wake_cost_ns_;
  std::vector<std::unique_ptr<Worker>> workers_;
  InjectionQueue injection_;
  IdleSet idle_;
  TimerQueue timers_;
  TurnMonitor monitor_;
  std::atomic<bool> shutdown_{false};
  // Worker sources: a list replaced whole on each change (read by every worker each loop).
  Mutex sources_mu_;
  std::vector<std::unique_ptr<std::vector<WorkerSource*>>> lists_ ABSL_GUARDED_BY(sources_mu_);
  std::atomic<const std::vector<WorkerSource*>*> sources_{nullptr};
  std::atomic<bool> joined_{false};
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_WORK_STEALING_SCHEDULER_H_
