#include "framework/scheduler/turn_monitor.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "framework/log/log.h"
#include "framework/scheduler/thread_stack.h"

namespace troupe {
namespace {

// Turn and delay buckets, in ns: 1 us .. 10 s, 1-2.5-5 per decade.
constexpr std::array<int64_t, 22> kBoundsNs = {
    1'000,         2'500,         5'000,        10'000,         25'000,        50'000,
    100'000,       250'000,       500'000,      1'000'000,      2'500'000,     5'000'000,
    10'000'000,    25'000'000,    50'000'000,   100'000'000,    250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

int64_t ToNs(absl::Duration d) {
  static_assert(kBoundsNs.size() == TurnMonitor::kHistogramBounds);
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) return 0;
  return absl::ToInt64Nanoseconds(d);
}

}  // namespace

std::string DescribeSlowTurn(const SlowTurnReport& r) {
  std::string what = r.actor_type.empty()
                         ? std::string("a task")
                         : absl::StrCat(r.actor_type, " (actor ", r.actor_id, ")");
  if (!r.message_type.empty()) absl::StrAppend(&what, " handling ", r.message_type);
  std::string line =
      r.still_running
          ? absl::StrCat("worker ", r.worker, " is stuck: ", what, " has run for ",
                         absl::FormatDuration(r.duration),
                         " and has not returned (the worker's sockets and queued actors wait)")
          : absl::StrCat("slow turn on worker ", r.worker, ": ", what, " ran for ",
                         absl::FormatDuration(r.duration),
                         " (never block the loop: blocking work belongs on the executor)");
  if (!r.stack.empty()) {
    constexpr size_t kShown = 24;
    absl::StrAppend(&line, "; stack: ");
    for (size_t i = 0; i < r.stack.size() && i < kShown; ++i) {
      absl::StrAppend(&line, i == 0 ? "" : " <- ", r.stack[i]);
    }
    if (r.stack.size() > kShown) absl::StrAppend(&line, " <- ...");
  }
  if (r.suppressed > 0) absl::StrAppend(&line, "; ", r.suppressed, " more not reported");
  return line;
}

void TurnMonitor::WorkerHistogram::Observe(int64_t ns) {
  size_t i = 0;
  while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;  // short turns stop at once
  counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
}

metrics::HistogramSnapshot TurnMonitor::WorkerHistogram::Snapshot() const {
  metrics::HistogramSnapshot s;
  for (size_t i = 0; i < kBoundsNs.size(); ++i) {
    s.bounds.push_back(static_cast<double>(kBoundsNs[i]) * 1e-9);
    s.counts.push_back(counts_[i].load(std::memory_order_relaxed));
    s.count += s.counts.back();
  }
  s.overflow = counts_[kBoundsNs.size()].load(std::memory_order_relaxed);
  s.count += s.overflow;
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
  return s;
}

TurnMonitor::TurnMonitor(int workers, TurnMonitorOptions options,
                         std::function<void(int)> on_long_turn)
    : options_(std::move(options)),
      on_long_turn_(std::move(on_long_turn)),
      slow_ns_(ToNs(options_.slow_turn)),
      stuck_ns_(ToNs(options_.stuck_turn)) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>(i));
  rate_since_ns_ = NowNs();
  // The watchdog also sets the sample rates, so it runs whenever turns are timed.
  if (options_.enabled) watchdog_ = std::thread([this] { Watch(); });
}

TurnMonitor::~TurnMonitor() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

int64_t TurnMonitor::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t TurnMonitor::SampleDelay(Worker& worker, Schedulable* s, uint64_t seq) {
  const int64_t now = NowNs();
  worker.delays.Observe(now - s->scheduled_at_ns);
  s->scheduled_at_ns = 0;
  return IsTimed(worker, seq) ? now : 0;
}

void TurnMonitor::EndSampledTurn(Worker& worker, int64_t start_ns) {
  const int64_t took = NowNs() - start_ns;
  worker.turns.Observe(took);
  // Scaled by the rate in force now (the watchdog may have changed it since the turn began:
  // rarely, and by a factor the next samples even out).
  const int64_t every = static_cast<int64_t>((worker.time_mask.load(std::memory_order_relaxed) + 1) / 2);
  worker.busy_ns.store(worker.busy_ns.load(std::memory_order_relaxed) + took * every,
                       std::memory_order_relaxed);
}

void TurnMonitor::EndWatchedTurn(int w) {
  // The watchdog saw this turn run across one of its looks: time it (at least this long).
  Worker& worker = *workers_[w];
  const int64_t took = NowNs() - worker.watched_since_ns.load(std::memory_order_relaxed);
  if (slow_ns_ == 0 || took < slow_ns_) return;
  worker.slow.store(worker.slow.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  SlowTurnReport r = Describe(w, took, /*running=*/false);
  if (const std::string_view* m = worker.watched_message.load(std::memory_order_relaxed)) {
    r.message_type = std::string(*m);
  }
  Report(std::move(r));
}

SlowTurnReport TurnMonitor::Describe(int w, int64_t duration_ns, bool running) const {
  const TurnActivity& a = workers_[w]->activity;
  SlowTurnReport r;
  r.worker = w;
  r.duration = absl::Nanoseconds(duration_ns);
  r.still_running = running;
  if (const std::string_view* type = a.actor_type.load(std::memory_order_relaxed)) {
    r.actor_type = std::string(*type);
  }
  r.actor_id = a.actor_id.load(std::memory_order_relaxed);
  if (const std::string_view* message = a.message.load(std::memory_order_relaxed)) {
    r.message_type = std::string(*message);
  }
  return r;
}

void TurnMonitor::Report(SlowTurnReport r) {
  if (!report_limit_.Allow(&r.suppressed)) return;
  if (options_.report) {
    options_.report(r);
  } else {
    Log(absl::LogSeverity::kWarning, DescribeSlowTurn(r));
  }
}

namespace {

// The smallest power of two N (1..max) with rate / N <= target.
uint32_t SampleEvery(double per_second, double target, uint32_t max) {
  uint32_t n = 1;
  while (n < max && per_second > target * n) n *= 2;
  return n;
}

}  // namespace

void TurnMonitor::AdaptSampling(int64_t now_ns) {
  const int64_t elapsed_ns = now_ns - rate_since_ns_;
  if (elapsed_ns < 10'000'000) return;  // too short to measure a rate
  rate_since_ns_ = now_ns;
  double all_turns = 0;
  for (auto& w : workers_) {
    const uint64_t seq = w->seq.load(std::memory_order_relaxed);
    const double turns = static_cast<double>(seq - w->rate_seq) / 2;
    w->rate_seq = seq;
    const uint64_t busy = w->busy_ns.load(std::memory_order_relaxed);
    // Enough turns for the samples (one in `every`, at least a few) to stand for them; a
    // quieter period keeps the last figure.
    if (turns >= 64) {
      const int64_t mean =
          static_cast<int64_t>(static_cast<double>(busy - w->rate_busy_ns) / turns);
      if (w->mean_turn_ns.load(std::memory_order_relaxed) != mean) {
        w->mean_turn_ns.store(mean, std::memory_order_relaxed);
      }
    }
    w->rate_busy_ns = busy;
    all_turns += turns;
    const double per_second = turns * 1e9 / static_cast<double>(elapsed_ns);
    const uint32_t every = SampleEvery(per_second, kTimedTurnsPerSecond, kMaxSampleEvery);
    const uint64_t mask = 2 * static_cast<uint64_t>(every) - 1;
    // Written only when it changes: the line is the worker's (its sequence number).
    if (w->time_mask.load(std::memory_order_relaxed) != mask) {
      w->time_mask.store(mask, std::memory_order_relaxed);
    }
  }
  // Every turn but a yield's continuation follows a schedule: the turn rate stands for it.
  const uint32_t every = SampleEvery(all_turns * 1e9 / static_cast<double>(elapsed_ns),
                                     kDelaySamplesPerSecond, kMaxSampleEvery);
  if (delay_mask_.load(std::memory_order_relaxed) != every - 1) {
    delay_mask_.store(every - 1, std::memory_order_relaxed);  // read by every Schedule
  }
}

void TurnMonitor::Watch() {
  int64_t period_ns = 100'000'000;
  if (stuck_ns_ > 0) period_ns = std::min(period_ns, stuck_ns_ / 4);
  if (slow_ns_ > 0) period_ns = std::min(period_ns, slow_ns_ / 4);
  period_ns = std::max<int64_t>(period_ns, 1'000'000);
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, std::chrono::nanoseconds(period_ns), [&] { return stopping_; })) {
    const int64_t now = NowNs();
    AdaptSampling(now);
    if (slow_ns_ == 0 && stuck_ns_ == 0) continue;  // sampling only
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker& w = *workers_[i];
      const uint64_t seq = w.seq.load(std::memory_order_acquire);
      if (seq % 2 == 0 || seq != w.last_seq) {  // between turns, or a turn seen for the first time
        w.last_seq = seq;
        w.first_seen_ns = now;  // it began after our previous look: it has run at most a period
        continue;
      }
      if (on_long_turn_) on_long_turn_(static_cast<int>(i));
      // The same turn as at our last look: it has run at least since first_seen_ns. The message
      // it handles at this first long look is the one named (a later look may catch the quick
      // ones that follow it in the same turn).
      if (w.watched_seq.load(std::memory_order_relaxed) != seq) {
        w.watched_message.store(w.activity.message.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
        w.watched_since_ns.store(w.first_seen_ns, std::memory_order_relaxed);
        w.watched_seq.store(seq, std::memory_order_release);
      }
      if (stuck_ns_ == 0 || now - w.first_seen_ns < stuck_ns_ || w.stuck_reported_seq == seq) {
        continue;
      }
      SlowTurnReport r = Describe(static_cast<int>(i), now - w.first_seen_ns, /*running=*/true);
      if (w.seq.load(std::memory_order_acquire) != seq) continue;  // it ended meanwhile
      w.stuck_reported_seq = seq;
      stuck_.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      if (const pid_t tid = w.tid.load(std::memory_order_acquire);
          options_.stuck_stack && tid != 0) {
        absl::StatusOr<std::vector<std::string>> stack =
            CaptureThreadStack(tid, absl::Milliseconds(100));
        // Only if the turn still runs: else the stack would be of whatever came after it.
        if (stack.ok() && w.seq.load(std::memory_order_acquire) == seq) r.stack = *std::move(stack);
      }
      Report(std::move(r));
      lock.lock();
    }
  }
}

void TurnMonitor::SetWorkerThread(int w) {
  workers_[w]->tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
}

uint64_t TurnMonitor::slow_turns() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->slow.load(std::memory_order_relaxed);
  return n;
}

uint64_t TurnMonitor::stuck_turns() const { return stuck_.load(std::memory_order_relaxed); }

void TurnMonitor::Collect(metrics::Collection& out) const {
  metrics::HistogramSnapshot turns, delays;
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = *workers_[i];
    out.Counter("troupe_worker_busy_seconds_total",
                absl::StrCat("Time each worker spent running turns (estimated from a sample of "
                             "about ",
                             kTimedTurnsPerSecond, " turns a second)."),
                {{"worker", absl::StrCat(i)}},
                static_cast<double>(w.busy_ns.load(std::memory_order_relaxed)) * 1e-9);
    (void)turns.Merge(w.turns.Snapshot());  // every worker's have the same bounds
    (void)delays.Merge(w.delays.Snapshot());
  }
  out.Histogram("troupe_turn_duration_seconds",
                absl::StrCat("How long turns ran (an actor handling up to a budget of messages; "
                             "a sample of about ",
                             kTimedTurnsPerSecond, " turns a second a worker)."),
                {}, std::move(turns));
  out.Histogram("troupe_scheduling_delay_seconds",
                absl::StrCat("From made runnable to its turn starting (a sample of about ",
                             kDelaySamplesPerSecond, " schedules a second)."),
                {}, std::move(delays));
  out.Counter("troupe_slow_turns_total", "Turns that ran longer than the slow-turn threshold.",
              {}, static_cast<double>(slow_turns()));
  out.Counter("troupe_stuck_turns_total",
              "Turns the watchdog found still running past the stuck-turn threshold.", {},
              static_cast<double>(stuck_turns()));
}

}  // namespace troupe
