// TurnMonitor's sampling follows the load: a quiet worker has every turn timed, a busy one only a
// bounded number a second, and the timed count the histogram shows is what the rate says.
#include "framework/scheduler/turn_monitor.h"

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

TEST(TurnMonitorTest, SwitchedOffItStartsNoWatchdogAndTimesNothing) {
  TurnMonitor monitor(1, {.enabled = false});
  TurnMonitor::WorkerState& w = *monitor.worker(0);
  NoWork s;
  for (int i = 0; i < 1000; ++i) monitor.EndTurn(w, monitor.BeginTurn(w, &s));
  EXPECT_EQ(TimedTurns(monitor), 0u);
  EXPECT_EQ(TurnMonitor::TurnsRun(w), 1000u);
}

}  // namespace
}  // namespace troupe
