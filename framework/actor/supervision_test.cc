// Supervision: a failing child is rebuilt in place (same ref, mailbox kept, failing message
// dropped and counted), siblings by strategy, restarts limited by intensity then escalated,
// with exponential backoff; and a crash storm that loses nothing unaccounted.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "framework/actor/lifecycle.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "framework/testing/test_system.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::WaitFor;

// Shared with the test: what the workers did, across their restarts.
struct Journal {
  std::atomic<int> starts{0};
  std::atomic<int> stops{0};
  std::atomic<int> handled{0};
  Mutex mu;
  std::vector<std::string> events;
  void Log(std::string e) {
    MutexLock lock(&mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> Events() {
    MutexLock lock(&mu);
    return events;
  }
};

struct Work {
  int n;
};
struct Boom {};
struct Count {};
using WorkerProtocol = Protocol<Work, Boom, Request<Count, int>>;

class Worker : public Actor<Worker, WorkerProtocol> {
 public:
  Worker(std::string name, std::shared_ptr<Journal> journal)
      : name_(std::move(name)), journal_(std::move(journal)) {}
  void OnStart() override {
    ++journal_->starts;
    journal_->Log(name_ + " start");
  }
  void OnStop() override { ++journal_->stops; }
  void Handle(Work w) {
    ++count_;
    ++journal_->handled;
    journal_->Log(name_ + " work " + std::to_string(w.n));
  }
  void Handle(Boom) { throw std::runtime_error(name_ + " exploded"); }
  int Handle(Count) { return count_; }

 private:
  std::string name_;
  std::shared_ptr<Journal> journal_;
  int count_ = 0;  // reset by a restart: the new instance starts afresh
};

// A supervisor spawning named workers on request and handing their refs out.
struct StartWorker {
  std::string name;
};
struct Down;
using SupervisorProtocol = Protocol<Request<StartWorker, ActorRef<WorkerProtocol>>>;
class Sup : public Actor<Sup, SupervisorProtocol> {
 public:
  Sup(SupervisorOptions options, std::shared_ptr<Journal> journal)
      : options_(options), journal_(std::move(journal)) {}
  void OnStart() override { ctx().SetSupervisorOptions(options_); }
  absl::StatusOr<ActorRef<WorkerProtocol>> Handle(StartWorker s) {
    return ctx().SpawnSupervised<Worker>(s.name, journal_);
  }

 private:
  SupervisorOptions options_;
  std::shared_ptr<Journal> journal_;
};

using ObserverProtocol = Protocol<troupe::Down>;
struct DownSeen {
  std::atomic<int> count{0};
  Mutex mu;
  absl::Status reason;
};
class Observer : public Actor<Observer, Protocol<troupe::Down, ActorRef<SupervisorProtocol>>> {
 public:
  explicit Observer(std::shared_ptr<DownSeen> seen) : seen_(std::move(seen)) {}
  void Handle(ActorRef<SupervisorProtocol> target) { MonitorActor(target); }
  void Handle(troupe::Down d) {
    MutexLock lock(&seen_->mu);
    seen_->reason = d.reason;
    ++seen_->count;
  }

 private:
  std::shared_ptr<DownSeen> seen_;
};

class SupervisionTest : public ::testing::Test {
 protected:
  ActorRef<SupervisorProtocol> Supervisor(SupervisorOptions options) {
    return system_.Spawn<Sup>(options, journal_).value();
  }
  ActorRef<WorkerProtocol> Start(const ActorRef<SupervisorProtocol>& sup, std::string name) {
    return system_.Ask(sup, StartWorker{std::move(name)}, absl::Seconds(10)).get().value();
  }
  int CountOf(const ActorRef<WorkerProtocol>& w) {
    return system_.Ask(w, Count{}, absl::Seconds(10)).get().value();
  }

  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::shared_ptr<Journal> journal_ = std::make_shared<Journal>();
};

TEST_F(SupervisionTest, ARestartKeepsTheRefAndTheMailboxAndDropsOnlyTheFailingMessage) {
  auto sup = Supervisor({.max_restarts = 10});
  auto worker = Start(sup, "w");
  worker.Tell(Work{1});
  worker.Tell(Work{2});
  worker.Tell(Boom{});  // dropped and counted; the messages queued behind it are kept
  for (int i = 3; i <= 5; ++i) worker.Tell(Work{i});
  ASSERT_TRUE(WaitFor([&] { return journal_->handled.load() == 5; }));
  EXPECT_EQ(CountOf(worker), 3);  // the new instance handled 3, 4, 5
  EXPECT_EQ(journal_->starts.load(), 2);
  EXPECT_EQ(journal_->stops.load(), 1);
  EXPECT_FALSE(worker.stopped());
  EXPECT_EQ(system_.stats().restarts, 1u);
  EXPECT_EQ(system_.stats().failures, 1u);
  std::vector<std::string> expected = {"w start",  "w work 1", "w work 2", "w start",
                                       "w work 3", "w work 4", "w work 5"};
  EXPECT_EQ(journal_->Events(), expected);
}

TEST_F(SupervisionTest, OneForAllRestartsEverySupervisedSibling) {
  auto sup = Supervisor({.strategy = RestartStrategy::kOneForAll, .max_restarts = 10});
  auto a = Start(sup, "a");
  auto b = Start(sup, "b");
  auto c = Start(sup, "c");
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 3; }));
  b.Tell(Boom{});
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 6; }));
  // Real time: a restart too many would show up meanwhile.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(journal_->starts.load(), 6);
  EXPECT_EQ(system_.stats().restarts, 3u);
}

TEST_F(SupervisionTest, RestForOneRestartsTheFailedChildAndThoseStartedAfterIt) {
  auto sup = Supervisor({.strategy = RestartStrategy::kRestForOne, .max_restarts = 10});
  auto a = Start(sup, "a");
  auto b = Start(sup, "b");
  auto c = Start(sup, "c");
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 3; }));
  b.Tell(Boom{});
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 5; }));
  // Real time: a restart too many (of a, say) would show up meanwhile.
  absl::SleepFor(absl::Milliseconds(50));
  int a_starts = 0, b_starts = 0, c_starts = 0;
  for (const std::string& e : journal_->Events()) {
    a_starts += e == "a start";
    b_starts += e == "b start";
    c_starts += e == "c start";
  }
  EXPECT_EQ(a_starts, 1);
  EXPECT_EQ(b_starts, 2);
  EXPECT_EQ(c_starts, 2);
}

TEST_F(SupervisionTest, PastTheIntensityTheSupervisorGivesUpAndStops) {
  // OTP's default: 1 restart in 5 s. The second failure within the period escalates.
  auto sup = Supervisor({});
  auto seen = std::make_shared<DownSeen>();
  auto observer = system_.Spawn<Observer>(seen).value();
  observer.Tell(sup);
  auto worker = Start(sup, "w");
  worker.Tell(Boom{});
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 2; }));
  EXPECT_FALSE(sup.stopped());
  worker.Tell(Boom{});
  ASSERT_TRUE(WaitFor([&] { return seen->count.load() == 1; }));
  EXPECT_TRUE(sup.stopped());
  EXPECT_TRUE(WaitFor([&] { return worker.stopped(); }));
  MutexLock lock(&seen->mu);
  EXPECT_NE(seen->reason.message().find("gave up after 1 restart"), absl::string_view::npos)
      << seen->reason;
}

// A supervisor of supervisors: the inner one gives up, the outer one restarts it.
struct StartInner {};
using TopProtocol = Protocol<Request<StartInner, ActorRef<SupervisorProtocol>>>;
class Top : public Actor<Top, TopProtocol> {
 public:
  explicit Top(std::shared_ptr<Journal> journal) : journal_(std::move(journal)) {}
  void OnStart() override { ctx().SetSupervisorOptions({.max_restarts = 5}); }
  absl::StatusOr<ActorRef<SupervisorProtocol>> Handle(StartInner) {
    return ctx().SpawnSupervised<Sup>(SupervisorOptions{}, journal_);
  }

 private:
  std::shared_ptr<Journal> journal_;
};

TEST_F(SupervisionTest, EscalationReachesTheSupervisorsSupervisor) {
  auto top = system_.Spawn<Top>(journal_).value();
  auto inner = system_.Ask(top, StartInner{}, absl::Seconds(10)).get().value();
  auto worker = Start(inner, "w");
  worker.Tell(Boom{});
  ASSERT_TRUE(WaitFor([&] { return journal_->starts.load() == 2; }));
  worker.Tell(Boom{});  // the inner supervisor gives up: it fails, and top restarts it
  ASSERT_TRUE(WaitFor([&] { return worker.stopped(); }));
  ASSERT_TRUE(WaitFor([&] { return system_.stats().restarts == 2; }));
  EXPECT_FALSE(inner.stopped());  // the same ref, a new instance
  EXPECT_FALSE(top.stopped());
  auto again = Start(inner, "w2");  // and it works
  again.Tell(Work{1});
  EXPECT_TRUE(WaitFor([&] { return journal_->handled.load() == 1; }));
}

TEST(SupervisionBackoffTest, RestartsWaitAnExponentialBackoff) {
  troupe::testing::TestSystem t;
  auto journal = std::make_shared<Journal>();
  auto sup = t.system()
                 .Spawn<Sup>(SupervisorOptions{.max_restarts = 10,
                                               .within = absl::Seconds(60),
                                               .backoff = absl::Milliseconds(100),
                                               .max_backoff = absl::Milliseconds(300)},
                             journal)
                 .value();
  auto reply = t.system().Ask(sup, StartWorker{"w"}, absl::Seconds(10));
  t.RunUntilIdle();
  auto worker = reply.get().value();
  t.RunUntilIdle();
  ASSERT_EQ(journal->starts.load(), 1);
  // Each failure waits twice as long as the one before (100, 200, then capped at 300 ms).
  for (absl::Duration wait : {absl::Milliseconds(100), absl::Milliseconds(200),
                              absl::Milliseconds(300), absl::Milliseconds(300)}) {
    const int before = journal->starts.load();
    worker.Tell(Boom{});
    worker.Tell(Work{0});  // waits in the mailbox during the backoff
    t.RunUntilIdle();
    t.AdvanceClock(wait - absl::Milliseconds(1));
    EXPECT_EQ(journal->starts.load(), before) << "restarted before " << wait;
    t.AdvanceClock(absl::Milliseconds(1));
    EXPECT_EQ(journal->starts.load(), before + 1) << "not restarted after " << wait;
  }
  EXPECT_EQ(journal->handled.load(), 4);  // every message queued during a backoff was kept
}

#ifdef TROUPE_SANITIZED
constexpr int kStormCrashes = 200;
constexpr int kStormMessages = 20000;
#else
constexpr int kStormCrashes = 1000;
constexpr int kStormMessages = 200000;
#endif

// The storm's worker records every numbered message it handles in shared counters.
struct Tally {
  explicit Tally(int n) : handled(n) {}
  std::vector<std::atomic<int>> handled;
  std::atomic<int> crashes{0};
};
struct Numbered {
  int n;
};
using StormProtocol = Protocol<Numbered, Boom>;
class StormWorker : public Actor<StormWorker, StormProtocol> {
 public:
  explicit StormWorker(std::shared_ptr<Tally> tally) : tally_(std::move(tally)) {}
  void Handle(Numbered m) { tally_->handled[m.n].fetch_add(1, std::memory_order_relaxed); }
  void Handle(Boom) {
    ++tally_->crashes;
    throw std::runtime_error("injected crash");
  }

 private:
  std::shared_ptr<Tally> tally_;
};
struct StartStorm {};
using StormSupProtocol = Protocol<Request<StartStorm, ActorRef<StormProtocol>>>;
class StormSup : public Actor<StormSup, StormSupProtocol> {
 public:
  explicit StormSup(std::shared_ptr<Tally> tally) : tally_(std::move(tally)) {}
  void OnStart() override {
    ctx().SetSupervisorOptions({.max_restarts = 1 << 30, .within = absl::Seconds(60)});
  }
  absl::StatusOr<ActorRef<StormProtocol>> Handle(StartStorm) {
    return ctx().SpawnSupervised<StormWorker>(tally_);
  }

 private:
  std::shared_ptr<Tally> tally_;
};

TEST(CrashStormTest, AThousandCrashesUnderOneForOneLoseNothingUnaccounted) {
  ActorSystem system({.threads = 2});
  auto tally = std::make_shared<Tally>(kStormMessages);
  auto sup = system.Spawn<StormSup>(tally).value();
  auto worker = system.Ask(sup, StartStorm{}, absl::Seconds(10)).get().value();
  const uint64_t dead_before = system.dead_letters().count();
  const absl::Time start = absl::Now();
  // Two producers: numbered messages, and crashes spread among them.
  std::thread numbers([&] {
    for (int i = 0; i < kStormMessages; ++i) worker.Tell(Numbered{i});
  });
  std::thread crashes([&] {
    for (int i = 0; i < kStormCrashes; ++i) {
      worker.Tell(Boom{});
      if (i % 16 == 0) std::this_thread::yield();
    }
  });
  numbers.join();
  crashes.join();
  ASSERT_TRUE(WaitFor([&] { return tally->crashes.load() == kStormCrashes; }, absl::Seconds(60)));
  auto handled_total = [&] {
    int total = 0;
    for (auto& h : tally->handled) total += h.load(std::memory_order_relaxed);
    return total;
  };
  ASSERT_TRUE(WaitFor([&] { return handled_total() == kStormMessages; }, absl::Seconds(60)));
  int duplicated = 0, lost = 0;
  for (auto& h : tally->handled) {
    duplicated += h.load() > 1;
    lost += h.load() == 0;
  }
  const uint64_t dead = system.dead_letters().count() - dead_before;
  std::printf("crash storm: %d crashes, %d messages: %d handled once, %d lost, %d duplicated, "
              "%llu dead letters, %llu restarts, %s\n",
              kStormCrashes, kStormMessages, kStormMessages - lost - duplicated, lost, duplicated,
              static_cast<unsigned long long>(dead),
              static_cast<unsigned long long>(system.stats().restarts),
              absl::FormatDuration(absl::Now() - start).c_str());
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(dead, 0u);  // the mailbox is kept across restarts: nothing became a dead letter
  EXPECT_EQ(system.stats().restarts, static_cast<uint64_t>(kStormCrashes));
  EXPECT_FALSE(worker.stopped());
}

}  // namespace
}  // namespace troupe
