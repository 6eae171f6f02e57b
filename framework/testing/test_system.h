// TestSystem: an ActorSystem on a DeterministicScheduler, for behaviour tests without sleeps.
//
// Thread safety: test thread only.
#ifndef FRAMEWORK_TESTING_TEST_SYSTEM_H_
#define FRAMEWORK_TESTING_TEST_SYSTEM_H_

#include <memory>

#include "absl/time/time.h"
#include "framework/system/actor_system.h"
#include "framework/testing/deterministic_scheduler.h"

namespace troupe::testing {

class TestSystem {
 public:
  explicit TestSystem(ActorSystemOptions options = {}) {
    auto scheduler = std::make_unique<DeterministicScheduler>(options.budget);
    scheduler_ = scheduler.get();
    system_ = std::make_unique<ActorSystem>(options, std::move(scheduler));
  }

  ActorSystem& system() { return *system_; }
  DeterministicScheduler& scheduler() { return *scheduler_; }

  size_t RunUntilIdle() { return scheduler_->RunUntilIdle(); }
  bool RunOne() { return scheduler_->RunOne(); }
  // Advances the manual clock, fires due timers, then runs until idle.
  void AdvanceClock(absl::Duration d) {
    scheduler_->AdvanceClock(d);
    scheduler_->RunUntilIdle();
  }

 private:
  DeterministicScheduler* scheduler_;
  std::unique_ptr<ActorSystem> system_;  // destroyed first: it owns the scheduler's core
};

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_TEST_SYSTEM_H_
