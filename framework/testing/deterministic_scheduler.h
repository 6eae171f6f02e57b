// DeterministicScheduler: a Scheduler for behaviour tests - one thread (the test's), turns run
// only when the test says so, in FIFO order, and time moves only when the test advances the
// manual clock. No sleeps, no flakiness.
//
//   troupe::testing::TestSystem t;
//   auto counter = t.system().Spawn<Counter>().value();
//   counter.Tell(Increment{1});
//   t.RunUntilIdle();
//   t.AdvanceClock(absl::Seconds(5));   // fires due timers, then runs until idle
//
// Thread safety: Schedule() and AddTimer() from any thread; everything else from the test
// thread only.
#ifndef FRAMEWORK_TESTING_DETERMINISTIC_SCHEDULER_H_
#define FRAMEWORK_TESTING_DETERMINISTIC_SCHEDULER_H_

#include <cstddef>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "framework/base/clock.h"
#include "framework/base/mutex.h"
#include "framework/scheduler/scheduler.h"
#include "framework/timer/timer_queue.h"

namespace troupe::testing {

class DeterministicScheduler final : public Scheduler {
 public:
  explicit DeterministicScheduler(int budget = 64,
                                  absl::Time start = absl::FromUnixSeconds(1'000'000));

  void Schedule(Schedulable* s) override;
  TimerHandle AddTimer(absl::Time deadline, absl::Duration period,
                       absl::AnyInvocable<void()> callback) override;
  absl::Time Now() const override;
  bool IsWorkerThread() const override { return in_turn_; }
  void Shutdown() override { timers_.Clear(); }
  void RunUntil(const std::function<bool()>& done) override;
  bool RunsTurnsOnCaller() const override { return true; }
  SchedulerStats stats() const override;
  int num_workers() const override { return 1; }

  // Runs one turn of the oldest runnable item. False if nothing was runnable.
  bool RunOne();
  // Runs turns until nothing is runnable; returns how many ran.
  size_t RunUntilIdle();
  // Moves the clock forward and fires the timers that fall due (without running turns).
  void AdvanceClock(absl::Duration d);
  // The time this scheduler runs on, for a component under test that takes a `const Clock*`.
  const ManualClock& clock() const { return clock_; }
  size_t runnable() const;
  size_t pending_timers() const { return timers_.Size(); }

 private:
  const int budget_;
  mutable Mutex mu_;
  std::deque<Schedulable*> queue_ ABSL_GUARDED_BY(mu_);
  ManualClock clock_;
  TimerQueue timers_;
  bool in_turn_ = false;
  uint64_t turns_ = 0;
  uint64_t timers_fired_ = 0;
};

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_DETERMINISTIC_SCHEDULER_H_
