// TurnMonitor: what a scheduler's turns cost, and the blocked-loop detector ("never block the
// loop", made visible).
//
// Timing every turn would cost more than a short turn itself (two clock reads, 16 ns each here,
// against ~40 ns turns halved pingpong), so the figures are sampled, at a rate that follows the
// load: a worker times one turn in N (busy time, scaled up by N, and the turn-duration
// histogram), N a power of two the watchdog picks at each look from the worker's turn rate so
// that about kTimedTurnsPerSecond turns a second are timed (N = 1 on a quiet worker: every turn;
// 16,384 on one doing 25 M turns a second). The scheduling delay ("made runnable" to "its turn
// starts") is sampled the same way, one schedule in M, from all the workers' turn rate. So the
// clock's cost is bounded by the sample rate, not by the load (about 2,000 reads a second a
// worker, well under 0.1% of a core), and a quiet service still fills its histograms.
//
// Long turns need no clock on the hot path: each turn bumps its worker's sequence number (odd
// while it runs), and a watchdog thread looks every min(slow_turn/4, stuck_turn/4, 100 ms). A
// turn it sees at two looks in a row is timed when it ends (from the first look: a lower bound,
// so a turn reported is never shorter than it says) and, if longer than `slow_turn`, counted and
// reported once with the actor's type and id, the message the watchdog saw it handling and its
// duration; one still running past `stuck_turn` is reported *while it runs* (its worker's
// sockets, LIFO slot and homed actors wait with it). Turns between slow_turn and slow_turn*1.25
// may go unreported (the watchdog's resolution). Reports go to `report` (default: stderr), at
// most kReportBurst per second; the counts are exact regardless.
//
// Thread safety: BeginTurn, EndTurn and activity(w) from worker w's thread only; Collect,
// SampleSchedule, timing_every, delay_every, the counters and the destructor from any thread.
#ifndef FRAMEWORK_SCHEDULER_TURN_MONITOR_H_
#define FRAMEWORK_SCHEDULER_TURN_MONITOR_H_

#include <array>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "framework/log/log.h"
#include "framework/metrics/metrics.h"
#include "framework/scheduler/schedulable.h"

namespace troupe {

struct SlowTurnReport {
  int worker = 0;
  absl::Duration duration;     // the whole turn, or (still_running) so far
  bool still_running = false;  // from the watchdog: the turn has not returned yet
  std::string actor_type;      // empty if the work was not an actor
  uint64_t actor_id = 0;
  std::string message_type;    // the message being handled (empty: between messages)
  uint64_t suppressed = 0;     // reports dropped by the rate limit since the last one
  // A stuck turn's call stack, innermost first (TurnMonitorOptions::stuck_stack; else empty).
  std::vector<std::string> stack;
};

struct TurnMonitorOptions {
  bool enabled = true;  // false: turns are not timed at all (no figures, no reports)
  absl::Duration slow_turn = absl::Milliseconds(100);  // zero or infinite: no slow-turn reports
  absl::Duration stuck_turn = absl::Seconds(1);        // zero or infinite: no watchdog
  std::function<void(const SlowTurnReport&)> report;   // default: one line on stderr
  // A stuck turn's report carries the stuck thread's stack (thread_stack.h: a SIGRTMIN+7 to
  // the worker, whose handler records it). Off by default: the signal interrupts the handler.
  bool stuck_stack = false;
};

// One line describing `r`, as the default report writes it.
std::string DescribeSlowTurn(const SlowTurnReport& r);

class TurnMonitor {
 public:
  // The sample rates the watchdog aims at: turns timed per second per worker, and scheduling
  // delays measured per second over all workers.
  static constexpr int kTimedTurnsPerSecond = 1000;
  static constexpr int kDelaySamplesPerSecond = 1000;
  // Sampling until the watchdog's first look has measured the load (then 1..kMaxSampleEvery).
  static constexpr uint32_t kInitialSampleEvery = 64;
  static constexpr uint32_t kMaxSampleEvery = 1u << 20;

  class WorkerState;
  // What BeginTurn hands to EndTurn.
  struct Turn {
    uint64_t seq;      // the worker's sequence number while the turn runs (odd)
    int64_t start_ns;  // 0 unless this turn is timed
  };
  static constexpr int kReportBurst = 5;
  static constexpr size_t kHistogramBounds = 22;  // turn_monitor.cc's kBoundsNs (checked there)

  // `on_long_turn` (may be empty): called by the watchdog, at each of its looks, with the index
  // of every worker still in the turn it was in at the previous look (a turn that has run at
  // least one period); it must be quick and must not call back into the monitor.
  TurnMonitor(int workers, TurnMonitorOptions options,
              std::function<void(int worker)> on_long_turn = nullptr);
  ~TurnMonitor();
  TurnMonitor(const TurnMonitor&) = delete;
  TurnMonitor& operator=(const TurnMonitor&) = delete;

  static int64_t NowNs();
  bool enabled() const { return options_.enabled; }
  // Worker w's state (the worker keeps the pointer: BeginTurn and EndTurn take it).
  WorkerState* worker(int w) { return workers_[w].get(); }
  // The worker whose state this is starts running `s` now; called for every turn, also when
  // timing is off: the worker's sequence number is the scheduler's own turn bookkeeping (odd
  // while in a turn: InTurn; half of it: the turns run), so that watching it costs the turns
  // nothing more than a store at each end. Inline: this is every turn's cost.
  Turn BeginTurn(WorkerState& worker, Schedulable* s) {
    const uint64_t seq = worker.seq.load(std::memory_order_relaxed) + 1;
    worker.seq.store(seq, std::memory_order_release);
    if (!options_.enabled) return {seq, 0};
    // The running actor fills in worker.activity itself.
    if (s->scheduled_at_ns != 0) [[unlikely]] return {seq, SampleDelay(worker, s, seq)};
    if (IsTimed(worker, seq)) [[unlikely]] return {seq, NowNs()};
    return {seq, 0};
  }
  // Whether the schedule a thread counts as its `count`th is one whose delay is measured (any
  // thread; `count` is the caller's own running count).
  bool SampleSchedule(uint32_t count) const {
    return (count & delay_mask_.load(std::memory_order_relaxed)) == 0 && options_.enabled;
  }
  void EndTurn(WorkerState& worker, Turn turn) {
    if (turn.start_ns != 0) [[unlikely]] EndSampledTurn(worker, turn.start_ns);
    if (options_.enabled && worker.watched_seq.load(std::memory_order_acquire) == turn.seq)
        [[unlikely]] {
      EndWatchedTurn(worker.index);
    }
    worker.seq.store(turn.seq + 1, std::memory_order_release);
  }
  // From the worker's own thread: whether it is running a turn now.
  static bool InTurn(const WorkerState& worker) {
    return (worker.seq.load(std::memory_order_relaxed) & 1) != 0;
  }
  // Turns the worker has finished (any thread).
  static uint64_t TurnsRun(const WorkerState& worker) {
    return worker.seq.load(std::memory_order_relaxed) / 2;
  }
  // What worker w's running turn fills in for the watchdog's reports; null when there is no
  // report to name it in (turns not timed, or slow- and stuck-turn reports both off).
  TurnActivity* activity(int w) {
    return options_.enabled && (slow_ns_ > 0 || stuck_ns_ > 0) ? &workers_[w]->activity : nullptr;
  }
  // From worker w's thread when it starts: the thread a stuck turn's stack is taken from.
  void SetWorkerThread(int w);

  // One turn in how many worker w is timing, and one schedule in how many is measured, now.
  uint32_t timing_every(int w) const {
    return static_cast<uint32_t>((workers_[w]->time_mask.load(std::memory_order_relaxed) + 1) / 2);
  }
  uint32_t delay_every() const { return delay_mask_.load(std::memory_order_relaxed) + 1; }

  // Worker w's mean turn over the watchdog's last rate period (sampled turns, as busy time),
  // in nanoseconds; 0 until measured, and always 0 with timing off. Any thread.
  int64_t mean_turn_ns(int w) const {
    return workers_[w]->mean_turn_ns.load(std::memory_order_relaxed);
  }

  uint64_t slow_turns() const;
  uint64_t stuck_turns() const;
  // troupe_worker_busy_seconds_total{worker}, troupe_turn_duration_seconds,
  // troupe_scheduling_delay_seconds, troupe_slow_turns_total, troupe_stuck_turns_total.
  void Collect(metrics::Collection& out) const;

 private:
  // A histogram with one writer (its worker): plain relaxed stores, no read-modify-write.
  class WorkerHistogram {
   public:
    void Observe(int64_t ns);
    metrics::HistogramSnapshot Snapshot() const;

   private:
    std::array<std::atomic<uint64_t>, kHistogramBounds + 1> counts_{};  // then the overflow
    std::atomic<int64_t> sum_ns_{0};
  };
 public:
  class alignas(64) WorkerState {
   public:
    explicit WorkerState(int i) : index(i) {}
    const int index;
    // Its worker's: odd while in a turn (bumped at both ends; also picks the sampled turns).
    std::atomic<uint64_t> seq{0};
    // Turn k (seq 2k+1) is timed when (seq & time_mask) == 1: time_mask = 2N-1 for one in N.
    // Set by the watchdog; read by the worker.
    std::atomic<uint64_t> time_mask{2 * kInitialSampleEvery - 1};
    std::atomic<uint64_t> busy_ns{0};  // sampled turns, each scaled by its N
    std::atomic<int64_t> mean_turn_ns{0};  // set by the watchdog (mean_turn_ns())
    std::atomic<uint64_t> slow{0};
    WorkerHistogram turns, delays;
    TurnActivity activity;
    // Set by the watchdog for a turn it saw at two looks in a row: EndTurn then times it (from
    // the watchdog's first sight: a lower bound) and, past slow_turn, reports it with the
    // message the watchdog saw it handling.
    std::atomic<uint64_t> watched_seq{0};
    std::atomic<int64_t> watched_since_ns{0};
    std::atomic<const std::string_view*> watched_message{nullptr};
    std::atomic<pid_t> tid{0};  // the worker thread's kernel id (SetWorkerThread); 0: unknown
    // The watchdog thread's own.
    uint64_t last_seq = 0;
    int64_t first_seen_ns = 0;
    uint64_t stuck_reported_seq = 0;
    uint64_t rate_seq = 0;  // seq at the last sample-rate update
    uint64_t rate_busy_ns = 0;  // busy_ns then
  };

 private:
  using Worker = WorkerState;

  static bool IsTimed(const Worker& worker, uint64_t seq) {
    return (seq & worker.time_mask.load(std::memory_order_relaxed)) == 1;
  }
  int64_t SampleDelay(Worker& worker, Schedulable* s, uint64_t seq);
  // From the watchdog: the sample rates for the turn rates seen since the last update.
  void AdaptSampling(int64_t now_ns);
  void EndSampledTurn(Worker& worker, int64_t start_ns);
  void EndWatchedTurn(int w);
  SlowTurnReport Describe(int w, int64_t duration_ns, bool running) const;
  void Report(SlowTurnReport r);
  void Watch();

  const TurnMonitorOptions options_;
  const std::function<void(int)> on_long_turn_;
  const int64_t slow_ns_;   // 0: off
  const int64_t stuck_ns_;  // 0: off
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> stuck_{0};
  // One schedule in delay_mask_+1 has its delay measured (a power of two; set by the watchdog).
  alignas(64) std::atomic<uint32_t> delay_mask_{2 * kInitialSampleEvery - 1};
  int64_t rate_since_ns_;  // the watchdog's: when the sample rates were last updated

  LogLimit report_limit_{kReportBurst};  // reports a second (the counts are exact regardless)

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_TURN_MONITOR_H_
