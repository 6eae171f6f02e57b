// TurnMonitor's sampling follows the load: a quiet worker has every turn timed, a busy one only a
// bounded number a second, and the timed count the histogram shows is what the rate says.
#include "framework/scheduler/turn_monitor.h"

#include <algorithm>
#include <cstdint>

#include "absl/time/clock.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

class NoWork : public Schedulable {
 public:
  RunOutcome Run(int) override { return RunOutcome::kIdle; }
};

uint64_t TimedTurns(const TurnMonitor& monitor) {
  metrics::Collection out;
  monitor.Collect(out);
  return out.families().at("troupe_turn_duration_seconds").samples.at(0).histogram.count;
}

TEST(TurnMonitorTest, AQuietWorkerHasEveryTurnTimed) {
  TurnMonitor monitor(1, {});
  TurnMonitor::WorkerState& w = *monitor.worker(0);
  NoWork s;
  EXPECT_EQ(monitor.timing_every(0), TurnMonitor::kInitialSampleEvery);  // before any look
  // ~200 turns a second, well under the target: the watchdog sets one in 1.
  ASSERT_TRUE(testing::WaitFor([&] {
    monitor.EndTurn(w, monitor.BeginTurn(w, &s));
    // Real time: the watchdog thread measures the turn rate on the clock.
    absl::SleepFor(absl::Milliseconds(5));
    return monitor.timing_every(0) == 1;
  }));
  const uint64_t before = TimedTurns(monitor);
  for (int i = 0; i < 50; ++i) monitor.EndTurn(w, monitor.BeginTurn(w, &s));
  EXPECT_EQ(TimedTurns(monitor) - before, 50u);
  EXPECT_EQ(monitor.delay_every(), 1u);
}

TEST(TurnMonitorTest, ABusyWorkerTimesABoundedShareOfItsTurns) {
  TurnMonitor monitor(1, {});
  TurnMonitor::WorkerState& w = *monitor.worker(0);
  NoWork s;
  // Millions of empty turns a second: far more than the target rate.
  ASSERT_TRUE(testing::WaitFor([&] {
    for (int i = 0; i < 100'000; ++i) monitor.EndTurn(w, monitor.BeginTurn(w, &s));
    return monitor.timing_every(0) >= 256;
  }));
  const uint32_t every = monitor.timing_every(0);
  EXPECT_GE(monitor.delay_every(), 256u);
  const uint64_t before = TimedTurns(monitor);
  constexpr int kTurns = 1 << 20;
  for (int i = 0; i < kTurns; ++i) monitor.EndTurn(w, monitor.BeginTurn(w, &s));
  // The rate may have moved within these turns (the watchdog looks meanwhile) but stays high.
  const uint64_t timed = TimedTurns(monitor) - before;
  EXPECT_GT(timed, 0u);
  EXPECT_LE(timed, static_cast<uint64_t>(kTurns / 128)) << "one in " << every;
}

// Busy-works for `d` (wall clock) in its turn.
class BusyWork : public Schedulable {
 public:
  explicit BusyWork(absl::Duration d) : d_(d) {}
  RunOutcome Run(int) override {
    const absl::Time until = absl::Now() + d_;
    while (absl::Now() < until) {
    }
    return RunOutcome::kIdle;
  }

 private:
  const absl::Duration d_;
};

// The mean turn (what the scheduler weighs a wake-up against) follows the turns' durations:
// 20 us turns measure 20 us or a little more, and 0 before the watchdog has seen enough turns.
// It is the watchdog's: it looks every 25 ms. The least of a few periods' figures is checked:
// one sampled turn that the kernel preempted (a loaded test machine) weighs as the N turns it
// stands for.
TEST(TurnMonitorTest, TheMeanTurnFollowsTheTurnsDurations) {
  TurnMonitor monitor(1, {});
  TurnMonitor::WorkerState& w = *monitor.worker(0);
  EXPECT_EQ(monitor.mean_turn_ns(0), 0);
  BusyWork s(absl::Microseconds(20));
  int64_t least = 0;
  int figures = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (int64_t last = 0; figures < 5 && absl::Now() < deadline;) {
    for (int i = 0; i < 100; ++i) {
      const TurnMonitor::Turn turn = monitor.BeginTurn(w, &s);
      s.Run(1);
      monitor.EndTurn(w, turn);
    }
    const int64_t mean = monitor.mean_turn_ns(0);
    if (mean != last && mean > 0) {
      least = figures++ == 0 ? mean : std::min(least, mean);
      last = mean;
    }
  }
  ASSERT_EQ(figures, 5);
  EXPECT_GE(least, 15'000);
  EXPECT_LT(least, 200'000);
}

TEST(TurnMonitorTest, SwitchedOffItStartsNoWatchdogAndTimesNothing) {
  TurnMonitor monitor(1, {.enabled = false});
  TurnMonitor::WorkerState& w = *monitor.worker(0);
  NoWork s;
  for (int i = 0; i < 1000; ++i) monitor.EndTurn(w, monitor.BeginTurn(w, &s));
  EXPECT_EQ(TimedTurns(monitor), 0u);
  EXPECT_EQ(TurnMonitor::TurnsRun(w), 1000u);
  EXPECT_EQ(monitor.mean_turn_ns(0), 0);  // the scheduler then wakes as if it were worth it
}

}  // namespace
}  // namespace troupe
