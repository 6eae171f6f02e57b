// Delayed and periodic sends, cancellation, and timers owned by an actor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framework/actor/actor.h"
#include "framework/system/actor_system.h"
#include "framework/testing/test_system.h"

namespace troupe {
namespace {

using ::testing::ElementsAre;
using ::troupe::testing::TestSystem;

struct Mark {
  std::string what;
};
struct ArmSelfTimers {};
using LogProtocol = Protocol<Mark, ArmSelfTimers>;

class Log : public Actor<Log, LogProtocol> {
 public:
  explicit Log(std::vector<std::string>* out) : out_(out) {}
  void Handle(Mark m) { out_->push_back(m.what); }
  void Handle(ArmSelfTimers) {
    ctx().RunAfter(absl::Seconds(1), [this] { out_->push_back("run-after"); });
    ctx().SendPeriodically(absl::Seconds(1), self(), Mark{"tick"});
  }

 private:
  std::vector<std::string>* out_;
};

TEST(TimersTest, DelayedSendsArriveInDeadlineOrder) {
  std::vector<std::string> out;
  TestSystem t;
  auto log = t.system().Spawn<Log>(&out).value();
  t.system().SendAfter(absl::Milliseconds(30), log, Mark{"30ms"});
  t.system().SendAfter(absl::Milliseconds(10), log, Mark{"10ms"});
  t.system().SendAfter(absl::Milliseconds(20), log, Mark{"20ms"});
  t.AdvanceClock(absl::Milliseconds(15));
  EXPECT_THAT(out, ElementsAre("10ms"));
  t.AdvanceClock(absl::Milliseconds(15));
  EXPECT_THAT(out, ElementsAre("10ms", "20ms", "30ms"));
}

TEST(TimersTest, CancelledTimersNeverDeliver) {
  std::vector<std::string> out;
  TestSystem t;
  auto log = t.system().Spawn<Log>(&out).value();
  TimerHandle h = t.system().SendAfter(absl::Seconds(1), log, Mark{"cancelled"});
  t.system().SendAfter(absl::Seconds(2), log, Mark{"kept"});
  EXPECT_TRUE(h.Cancel());
  t.AdvanceClock(absl::Seconds(5));
  EXPECT_THAT(out, ElementsAre("kept"));
}

TEST(TimersTest, PeriodicSendsRepeatUntilCancelled) {
  std::vector<std::string> out;
  TestSystem t;
  auto log = t.system().Spawn<Log>(&out).value();
  TimerHandle h = t.system().SendPeriodically(absl::Seconds(1), log, Mark{"tick"});
  for (int i = 0; i < 3; ++i) t.AdvanceClock(absl::Seconds(1));
  EXPECT_THAT(out, ElementsAre("tick", "tick", "tick"));
  EXPECT_TRUE(h.Cancel());
  t.AdvanceClock(absl::Seconds(5));
  EXPECT_EQ(out.size(), 3u);
}

TEST(TimersTest, ActorTimersRunOnTheActorAndAreCancelledWhenItStops) {
  std::vector<std::string> out;
  TestSystem t;
  auto log = t.system().Spawn<Log>(&out).value();
  log.Tell(ArmSelfTimers{});
  t.RunUntilIdle();
  t.AdvanceClock(absl::Seconds(1));
  EXPECT_THAT(out, ::testing::UnorderedElementsAre("run-after", "tick"));
  log.Stop();
  t.RunUntilIdle();
  const uint64_t dead_before = t.system().dead_letters().count();
  t.AdvanceClock(absl::Seconds(10));
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(t.system().dead_letters().count(), dead_before);  // cancelled, not dead letters
}

TEST(TimersTest, TimersToAStoppedActorBecomeDeadLetters) {
  std::vector<std::string> out;
  TestSystem t;
  auto log = t.system().Spawn<Log>(&out).value();
  t.system().SendAfter(absl::Seconds(1), log, Mark{"too late"});
  log.Stop();
  t.RunUntilIdle();
  t.AdvanceClock(absl::Seconds(1));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(t.system().dead_letters().count(), 1u);
}

}  // namespace
}  // namespace troupe
