// The blocked-loop detector on a real ActorSystem: a 300 ms handler yields exactly one slow-turn
// report (its actor, its message, its duration); a handler blocked for 2 s is reported by the
// watchdog while it is still blocked, then once more when it returns; 10,000 fast turns yield
// none; the detector switched off reports nothing. And the system's metrics after known work.
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "absl/strings/str_join.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

struct Block {
  absl::Duration how_long;
};
struct Quick {};
struct Done {};

class Sleeper : public Actor<Sleeper, Protocol<Block, Quick, Request<Done, bool>>> {
 public:
  // Blocks its worker on purpose: the watchdog is to report the slow turn.
  void Handle(Block m) { absl::SleepFor(m.how_long); }  // what a handler must never do
  void Handle(Quick) {}
  bool Handle(Done) { return true; }
};

class Reports {
 public:
  std::function<void(const SlowTurnReport&)> Sink() {
    return [this](const SlowTurnReport& r) {
      MutexLock lock(&mu_);
      reports_.push_back({r, absl::Now()});
    };
  }
  struct Seen {
    SlowTurnReport report;
    absl::Time at;
  };
  std::vector<Seen> Get() {
    MutexLock lock(&mu_);
    return reports_;
  }

 private:
  Mutex mu_;
  std::vector<Seen> reports_ ABSL_GUARDED_BY(mu_);
};

ActorSystemOptions WithReports(Reports& reports) {
  return {.threads = 2, .on_slow_turn = reports.Sink()};
}

TEST(BlockedLoopTest, A300MsHandlerIsReportedExactlyOnceWithItsActorAndMessage) {
  Reports reports;
  ActorSystem system(WithReports(reports));
  auto a = system.Spawn<Sleeper>().value();
  a.Tell(Block{absl::Milliseconds(300)});
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  absl::SleepFor(absl::Milliseconds(200));  // a second report would have come by now
  std::vector<Reports::Seen> seen = reports.Get();
  ASSERT_EQ(seen.size(), 1u);
  const SlowTurnReport& r = seen[0].report;
  EXPECT_FALSE(r.still_running);
  EXPECT_THAT(r.actor_type, ::testing::HasSubstr("Sleeper"));
  EXPECT_EQ(r.actor_id, a.id());
  EXPECT_THAT(r.message_type, ::testing::HasSubstr("Block"));
  EXPECT_GE(r.duration, absl::Milliseconds(250));  // a lower bound, within the watchdog period
  EXPECT_THAT(DescribeSlowTurn(r), ::testing::HasSubstr("slow turn on worker"));
  EXPECT_THAT(system.metrics().TextFormat(), ::testing::HasSubstr("troupe_slow_turns_total 1\n"));
}

TEST(BlockedLoopTest, AHandlerBlockedFor2SecondsIsReportedWhileItIsStillBlocked) {
  Reports reports;
  ActorSystem system(WithReports(reports));
  auto a = system.Spawn<Sleeper>().value();
  const absl::Time sent = absl::Now();
  a.Tell(Block{absl::Seconds(2)});
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  const absl::Time returned = absl::Now();
  // The second report comes when the turn ends, just after Done's reply went out.
  std::vector<Reports::Seen> seen = reports.Get();
  for (int i = 0; i < 200 && seen.size() < 2; ++i) {
    // Real time: that report is filed on another thread as the turn ends.
    absl::SleepFor(absl::Milliseconds(10));
    seen = reports.Get();
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].report.still_running);
  EXPECT_LT(seen[0].at, returned - absl::Milliseconds(500));  // well before the handler returned
  EXPECT_GE(seen[0].at - sent, absl::Seconds(1));             // past the stuck threshold
  EXPECT_THAT(seen[0].report.message_type, ::testing::HasSubstr("Block"));
  EXPECT_THAT(DescribeSlowTurn(seen[0].report), ::testing::HasSubstr("is stuck"));
  EXPECT_FALSE(seen[1].report.still_running);  // and once more with its whole duration
  EXPECT_GE(seen[1].report.duration, absl::Milliseconds(1900));
  EXPECT_THAT(system.metrics().TextFormat(), ::testing::HasSubstr("troupe_stuck_turns_total 1\n"));
}

// Not inlined, so that it shows in the stuck worker's stack by name; it calls nothing while it
// spins, so the signal lands in it (a frame-pointer walk cannot see the caller of a library
// leaf function built without frame pointers).
__attribute__((noinline)) void SpinInStuckStackTest(const std::atomic<bool>* release) {
  while (!release->load(std::memory_order_relaxed)) {
  }
  asm volatile("");  // and not a tail call
}

struct Spin {
  const std::atomic<bool>* release;
};
class Spinner : public Actor<Spinner, Protocol<Spin, Block, Request<Done, bool>>> {
 public:
  void Handle(Spin m) { SpinInStuckStackTest(m.release); }
  // Stuck in a sleep on purpose: the watchdog's stack signal must not harm it.
  void Handle(Block m) { absl::SleepFor(m.how_long); }
  bool Handle(Done) { return true; }
};

TEST(BlockedLoopTest, AStuckTurnsReportCarriesItsStackWhenAskedTo) {
#ifdef TROUPE_TSAN
  // ThreadSanitizer holds a signal back until its thread calls into the runtime, which a
  // spinning handler never does.
  GTEST_SKIP() << "signals are deferred under ThreadSanitizer";
#endif
  Reports reports;
  ActorSystemOptions options = WithReports(reports);
  options.stuck_turn_stack = true;
  ActorSystem system(options);
  auto a = system.Spawn<Spinner>().value();
  std::atomic<bool> release{false};
  a.Tell(Spin{&release});
  const bool reported = testing::WaitFor([&] { return !reports.Get().empty(); });
  release.store(true);
  ASSERT_TRUE(reported);
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  std::vector<Reports::Seen> seen = reports.Get();
  ASSERT_TRUE(seen[0].report.still_running);
  std::string frames = absl::StrJoin(seen[0].report.stack, " | ");
  EXPECT_THAT(frames, ::testing::HasSubstr("SpinInStuckStackTest")) << frames;
  EXPECT_THAT(frames, ::testing::HasSubstr("ActorCell::Run")) << frames;  // and its callers
  EXPECT_THAT(DescribeSlowTurn(seen[0].report), ::testing::HasSubstr("stack: "));
  // A handler stuck in a sleep is signalled too: the sleep resumes, the handler is unharmed.
  ASSERT_TRUE(testing::WaitFor([&] { return reports.Get().size() >= 2; }));  // Spin's end
  const absl::Time sent = absl::Now();
  a.Tell(Block{absl::Milliseconds(1500)});
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  EXPECT_GE(absl::Now() - sent, absl::Milliseconds(1500));
  ASSERT_TRUE(testing::WaitFor([&] { return reports.Get().size() >= 4; }));
  seen = reports.Get();
  for (const auto& r : seen) std::printf("report: %s\n", DescribeSlowTurn(r.report).c_str());
  ASSERT_TRUE(seen[2].report.still_running);
  EXPECT_FALSE(seen[2].report.stack.empty());
}

TEST(BlockedLoopTest, TenThousandFastTurnsAreNotReported) {
  Reports reports;
  ActorSystem system(WithReports(reports));
  std::vector<ActorRef<Protocol<Block, Quick, Request<Done, bool>>>> actors;
  for (int i = 0; i < 100; ++i) actors.push_back(system.Spawn<Sleeper>().value());
  for (int round = 0; round < 100; ++round) {
    for (auto& a : actors) a.Tell(Quick{});
    for (auto& a : actors) ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  }
  EXPECT_GE(system.stats().scheduler.turns, 10000u);
  EXPECT_TRUE(reports.Get().empty());
}

TEST(BlockedLoopTest, SwitchedOffItReportsNothing) {
  Reports reports;
  ActorSystemOptions options = WithReports(reports);
  options.slow_turn = absl::ZeroDuration();
  options.stuck_turn = absl::InfiniteDuration();
  ActorSystem system(options);
  auto a = system.Spawn<Sleeper>().value();
  a.Tell(Block{absl::Milliseconds(1200)});
  ASSERT_TRUE(system.Ask(a, Done{}, absl::Seconds(10)).get().ok());
  EXPECT_TRUE(reports.Get().empty());
}

TEST(SystemMetricsTest, KnownWorkShowsInTheExactCounts) {
  ActorSystem system({.threads = 2});
  std::vector<ActorRef<Protocol<Block, Quick, Request<Done, bool>>>> actors;
  for (int i = 0; i < 7; ++i) actors.push_back(system.Spawn<Sleeper>().value());
  actors[0].Stop();
  // Real time: the actor stops on a worker thread.
  while (!actors[0].stopped()) absl::SleepFor(absl::Milliseconds(1));
  actors[0].Tell(Quick{});  // a dead letter: stopped
  actors[0].Tell(Quick{});
  for (int i = 1; i < 7; ++i) ASSERT_TRUE(system.Ask(actors[i], Done{}, absl::Seconds(5)).get().ok());
  const std::string text = system.metrics().TextFormat();
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_actors_spawned_total 7\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_actors_live 6\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_dead_letters_total{reason=\"stopped\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_dead_letters_total{reason=\"mailbox_full\"} 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_worker_busy_seconds_total{worker=\"1\"} "));
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE troupe_turn_duration_seconds histogram\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_turn_duration_seconds_bucket{le=\"+Inf\"} "));
}

}  // namespace
}  // namespace troupe
