#include "framework/testing/deterministic_scheduler.h"

#include <cstdio>

namespace troupe::testing {

DeterministicScheduler::DeterministicScheduler(int budget, absl::Time start)
    : budget_(budget), clock_(start) {}

void DeterministicScheduler::Schedule(Schedulable* s) {
  MutexLock lock(&mu_);
  queue_.push_back(s);
}

TimerHandle DeterministicScheduler::AddTimer(absl::Time deadline, absl::Duration period,
                                             absl::AnyInvocable<void()> callback) {
  return timers_.Add(deadline, period, std::move(callback));
}

absl::Time DeterministicScheduler::Now() const { return clock_.Now(); }

bool DeterministicScheduler::RunOne() {
  Schedulable* s;
  {
    MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    s = queue_.front();
    queue_.pop_front();
  }
  in_turn_ = true;
  const RunOutcome outcome = s->Run(budget_);
  in_turn_ = false;
  ++turns_;
  if (outcome == RunOutcome::kYield) Schedule(s);
  return true;
}

size_t DeterministicScheduler::RunUntilIdle() {
  size_t n = 0;
  while (RunOne()) ++n;
  return n;
}

void DeterministicScheduler::AdvanceClock(absl::Duration d) {
  timers_fired_ += timers_.FireDue(clock_.Advance(d));
}

size_t DeterministicScheduler::runnable() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

void DeterministicScheduler::RunUntil(const std::function<bool()>& done) {
  while (!done()) {
    if (!RunOne()) {
      std::fprintf(stderr,
                   "troupe: deterministic scheduler is idle but the awaited condition is false\n");
      return;
    }
  }
}

SchedulerStats DeterministicScheduler::stats() const {
  SchedulerStats s;
  s.turns = turns_;
  s.timers_fired = timers_fired_;
  return s;
}

}  // namespace troupe::testing
