// The executor on a real ActorSystem: results as messages, saturation, cancellation, fairness,
// shutdown, and the guarantee that blocking work never stalls the actors.
#include "actors/executor/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "actors/executor/run_blocking.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
#include "framework/base/status_matchers.h"
#include "framework/system/actor_system.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;

#ifdef TROUPE_SANITIZED
constexpr int kScale = 2;
#else
constexpr int kScale = 1;
#endif

// Results reported by requesters (their continuations run on the requester actors).
struct Results {
  Mutex mu;
  std::vector<absl::StatusOr<int>> values ABSL_GUARDED_BY(mu);
  size_t size() {
    MutexLock lock(&mu);
    return values.size();
  }
  void Add(absl::StatusOr<int> v) {
    MutexLock lock(&mu);
    values.push_back(std::move(v));
  }
  std::vector<absl::StatusOr<int>> Get() {
    MutexLock lock(&mu);
    return values;
  }
};

void WaitUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + limit;
  // Real time: the jobs run on the executor's own pool threads.
  while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(done());
}

struct Job {
  std::function<absl::StatusOr<int>()> fn;
  bool cancel_at_once = false;
};
struct StopNow {};
using RequesterProtocol = Protocol<Job, StopNow>;

class Requester : public Actor<Requester, RequesterProtocol> {
 public:
  explicit Requester(Results* results) : results_(results) {}
  void Handle(Job j) {
    BlockingHandle h = RunBlocking(ctx(), std::move(j.fn), [this](absl::StatusOr<int> r) {
      EXPECT_TRUE(ctx().system().scheduler().IsWorkerThread());  // delivered as a message
      results_->Add(std::move(r));
    });
    if (j.cancel_at_once) h.Cancel();
  }
  void Handle(StopNow) { ctx().Stop(); }

 private:
  Results* results_;
};

std::function<absl::StatusOr<int>()> Value(int v) {
  return [v]() -> absl::StatusOr<int> { return v; };
}
std::function<absl::StatusOr<int>()> WaitFor(Notification* gate, int v) {
  return [gate, v]() -> absl::StatusOr<int> {
    gate->WaitForNotification();
    return v;
  };
}

TEST(ExecutorTest, ResultsErrorsAndExceptionsComeBackAsMessages) {
  ActorSystem system({.threads = 2});
  Results results;
  auto r = system.Spawn<Requester>(&results).value();
  r.Tell(Job{Value(42)});
  r.Tell(Job{[]() -> absl::StatusOr<int> { return absl::NotFoundError("nope"); }});
  r.Tell(Job{[]() -> absl::StatusOr<int> { throw std::runtime_error("kaboom"); }});
  WaitUntil([&] { return results.size() == 3; });
  r.Tell(Job{Value(7)});  // the pool survived the exception
  WaitUntil([&] { return results.size() == 4; });
  auto v = results.Get();
  EXPECT_THAT(
      v, ::testing::UnorderedElementsAre(IsOkAndHolds(42), StatusIs(absl::StatusCode::kNotFound),
                                         StatusIs(absl::StatusCode::kInternal), IsOkAndHolds(7)));
  const ExecutorStats stats = (*Executor::Of(system))->stats();
  EXPECT_EQ(stats.completed, 4u);
  EXPECT_EQ(stats.running, 0u);
}

// While 4 jobs block, 100,000 ping-pong messages between two other actors complete: blocking
// work never holds a worker.
struct Ball {
  int left;
};
using PlayerProtocol = Protocol<Ball>;
class Player : public Actor<Player, PlayerProtocol> {
 public:
  Player(ActorRef<PlayerProtocol>* partner, Notification* done) : partner_(partner), done_(done) {}
  void Handle(Ball b) {
    if (b.left == 0) {
      done_->Notify();
      return;
    }
    partner_->Tell(Ball{b.left - 1});
  }

 private:
  ActorRef<PlayerProtocol>* partner_;
  Notification* done_;
};

TEST(ExecutorTest, BlockingWorkNeverStallsTheActors) {
  ActorSystem system({.threads = 2});
  ASSERT_TRUE(Executor::Of(system, {.threads = 4}).ok());
  Results results;
  auto requester = system.Spawn<Requester>(&results).value();
  const absl::Duration block = absl::Seconds(1) * kScale;
  for (int i = 0; i < 4; ++i) {
    requester.Tell(Job{[block]() -> absl::StatusOr<int> {
      // A slow job on purpose (it holds a pool thread): the actors must keep going.
      absl::SleepFor(block);
      return 1;
    }});
  }
  Executor* executor = *Executor::Of(system);
  WaitUntil([&] { return executor->stats().running == 4; });
  const absl::Time start = absl::Now();
  Notification done;
  ActorRef<PlayerProtocol> a, b;
  a = system.Spawn<Player>(&b, &done).value();
  b = system.Spawn<Player>(&a, &done).value();
  a.Tell(Ball{100000});
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(executor->stats().running, 4u) << "the blocking jobs should still be running";
  EXPECT_LT(elapsed, block) << "100,000 messages took " << elapsed;
  WaitUntil([&] { return results.size() == 4; });
}

TEST(ExecutorTest, SaturationIsRejectedAtOnceWithExactCounts) {
  ActorSystem system({.threads = 2});
  Executor* executor = *Executor::Of(system, {.threads = 2, .max_queued = 3});
  Results results;
  Notification gate;
  auto r = system.Spawn<Requester>(&results).value();
  for (int i = 0; i < 9; ++i) r.Tell(Job{WaitFor(&gate, i)});  // 2 run, 3 queue, 4 rejected
  WaitUntil([&] { return results.size() == 4; });
  for (const auto& v : results.Get())
    EXPECT_THAT(v, StatusIs(absl::StatusCode::kResourceExhausted));
  ExecutorStats stats = executor->stats();
  EXPECT_EQ(stats.running, 2u);
  EXPECT_EQ(stats.queued, 3u);
  EXPECT_EQ(stats.rejected, 4u);
  gate.Notify();
  WaitUntil([&] { return results.size() == 9; });
  stats = executor->stats();
  EXPECT_EQ(stats.completed, 5u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.running, 0u);
  // The same figures in the system's metrics (what /metrics serves).
  const std::string text = system.metrics().TextFormat();
  EXPECT_THAT(text, ::testing::HasSubstr("\ntroupe_executor_jobs_completed_total 5\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("\ntroupe_executor_jobs_rejected_total 4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("\ntroupe_executor_jobs_running 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("\ntroupe_executor_job_seconds_count 5\n"));
}

// A result counts in stats() (and /metrics) before its continuation runs: a requester holding
// its n-th result reads at least n completed, and no job of its still running.
struct CountedRequests {
  int total = 0;
};
struct CheckedResult {
  int n;
  uint64_t completed, running;
};
class ChainRequester : public Actor<ChainRequester, Protocol<CountedRequests>> {
 public:
  ChainRequester(Executor* executor, std::vector<CheckedResult>* seen, Notification* done)
      : executor_(executor), seen_(seen), done_(done) {}
  void Handle(CountedRequests r) {
    total_ = r.total;
    Next();
  }

 private:
  void Next() {
    RunBlocking(ctx(), [] { return 1; }, [this](absl::StatusOr<int>) {
      const ExecutorStats stats = executor_->stats();
      seen_->push_back({++finished_, stats.completed, stats.running});
      if (finished_ == total_) {
        done_->Notify();
      } else {
        Next();
      }
    });
  }
  Executor* executor_;
  std::vector<CheckedResult>* seen_;
  Notification* done_;
  int total_ = 0, finished_ = 0;
};

TEST(ExecutorTest, AResultIsCountedBeforeItArrives) {
  ActorSystem system({.threads = 2});
  Executor* executor = *Executor::Of(system, {.threads = 2});
  std::vector<CheckedResult> seen;  // written by the actor, read after done
  Notification done;
  auto r = system.Spawn<ChainRequester>(executor, &seen, &done).value();
  r.Tell(CountedRequests{2000});
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  int late = 0;
  for (const CheckedResult& c : seen) {
    if (c.completed < static_cast<uint64_t>(c.n) || c.running != 0) ++late;
  }
  EXPECT_EQ(late, 0) << "of " << seen.size() << " results, " << late
                     << " arrived before the executor counted them";
}

TEST(ExecutorTest, CancelledAndOrphanedWorkIsNotRun) {
  ActorSystem system({.threads = 2});
  Executor* executor = *Executor::Of(system, {.threads = 1});
  Results results, orphan_results;
  Notification gate;
  std::atomic<int> ran{0};
  auto counting = [&ran](int v) {
    return [&ran, v]() -> absl::StatusOr<int> {
      ran.fetch_add(1);
      return v;
    };
  };
  auto r = system.Spawn<Requester>(&results).value();
  auto orphan = system.Spawn<Requester>(&orphan_results).value();
  r.Tell(Job{WaitFor(&gate, 0)});  // occupies the only thread
  WaitUntil([&] { return executor->stats().running == 1; });
  r.Tell(Job{counting(1), /*cancel_at_once=*/true});  // cancelled while queued
  orphan.Tell(Job{counting(2)});                      // its requester stops while it is queued
  orphan.Tell(StopNow{});
  r.Tell(Job{counting(3)});
  WaitUntil([&] { return executor->stats().queued == 3 && orphan.stopped(); });
  gate.Notify();
  WaitUntil([&] { return results.size() == 2; });  // the gate job and job 3
  EXPECT_EQ(ran.load(), 1);
  EXPECT_THAT(results.Get(), ::testing::ElementsAre(IsOkAndHolds(0), IsOkAndHolds(3)));
  EXPECT_EQ(executor->stats().cancelled, 2u);
  EXPECT_EQ(orphan_results.size(), 0u);
}

// Requester A floods the executor before B asks; B still gets every other turn.
struct Logged {
  std::string who;
  std::vector<std::string>* log;
  Mutex* mu;
};
TEST(ExecutorTest, RequestersAreServedRoundRobin) {
  ActorSystem system({.threads = 2});
  Executor* executor = *Executor::Of(system, {.threads = 1});
  Mutex mu;
  std::vector<std::string> log;
  auto job = [&](std::string who) {
    return [&, who]() -> absl::StatusOr<int> {
      MutexLock lock(&mu);
      log.push_back(who);
      return 0;
    };
  };
  Results ra, rb;
  Notification gate;
  auto a = system.Spawn<Requester>(&ra).value();
  auto b = system.Spawn<Requester>(&rb).value();
  a.Tell(Job{WaitFor(&gate, 0)});
  WaitUntil([&] { return executor->stats().running == 1; });
  for (int i = 0; i < 20; ++i) a.Tell(Job{job("A")});
  WaitUntil([&] { return executor->stats().queued == 20; });
  b.Tell(Job{job("B")});
  b.Tell(Job{job("B")});
  WaitUntil([&] { return executor->stats().queued == 22; });
  gate.Notify();
  WaitUntil([&] { return ra.size() == 21 && rb.size() == 2; });
  MutexLock lock(&mu);
  ASSERT_EQ(log.size(), 22u);
  EXPECT_EQ(log[1], "B");  // A, B, A, B, A, A, ... rather than twenty A's first
  EXPECT_EQ(log[3], "B");
}

TEST(ExecutorTest, ShutdownCancelsQueuedWorkAndAwaitsRunningWork) {
  Results results;
  Notification gate;
  uint64_t cancelled = 0;
  {
    ActorSystem system({.threads = 2});
    Executor* executor = *Executor::Of(system, {.threads = 1});
    auto r = system.Spawn<Requester>(&results).value();
    r.Tell(Job{WaitFor(&gate, 1)});
    WaitUntil([&] { return executor->stats().running == 1; });
    for (int i = 0; i < 3; ++i) r.Tell(Job{Value(10 + i)});
    WaitUntil([&] { return executor->stats().queued == 3; });
    std::thread release([&] {
      // Real time: let Shutdown begin, and cancel the queue, while the job still runs.
      absl::SleepFor(absl::Milliseconds(100));
      gate.Notify();
    });
    executor->Shutdown();  // returns once the running job finished
    release.join();
    cancelled = executor->stats().cancelled;
    WaitUntil([&] { return results.size() == 4; });  // delivered while the actors still run
  }
  EXPECT_EQ(cancelled, 3u);
  auto v = results.Get();
  EXPECT_EQ(std::count_if(
                v.begin(), v.end(),
                [](const auto& r) { return r.status().code() == absl::StatusCode::kCancelled; }),
            3);
  EXPECT_EQ(std::count_if(v.begin(), v.end(), [](const auto& r) { return r.ok() && *r == 1; }), 1);
}

TEST(ExecutorTest, DrainingShutdownRunsQueuedWorkAndRefusesNewWork) {
  Results results;
  ActorSystem system({.threads = 2});
  Executor* executor = *Executor::Of(system, {.threads = 1, .drain_on_shutdown = true});
  Notification gate;
  auto r = system.Spawn<Requester>(&results).value();
  r.Tell(Job{WaitFor(&gate, 1)});
  WaitUntil([&] { return executor->stats().running == 1; });
  for (int i = 0; i < 3; ++i) r.Tell(Job{Value(10 + i)});
  WaitUntil([&] { return executor->stats().queued == 3; });
  gate.Notify();
  executor->Shutdown();
  EXPECT_EQ(executor->stats().completed, 4u);
  r.Tell(Job{Value(99)});
  WaitUntil([&] { return results.size() == 5; });
  EXPECT_THAT(results.Get().back(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ExecutorTest, ShutdownGivesUpOnOverrunningWorkAtTheDeadline) {
  ActorSystem system({.threads = 2});
  Executor* executor =
      *Executor::Of(system, {.threads = 1, .shutdown_deadline = absl::Milliseconds(100)});
  Results results;
  auto r = system.Spawn<Requester>(&results).value();
  r.Tell(Job{[]() -> absl::StatusOr<int> {
    // Overruns the 100 ms shutdown deadline on purpose: Shutdown must give up on it.
    absl::SleepFor(absl::Milliseconds(1500));
    return 1;
  }});
  WaitUntil([&] { return executor->stats().running == 1; });
  const absl::Time start = absl::Now();
  executor->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

// The coroutine form.
struct Compute {};
using CoProtocol = Protocol<Request<Compute, int>>;
class CoRequester : public Actor<CoRequester, CoProtocol> {
 public:
  Task<int> Handle(Compute) {
    absl::StatusOr<int> a = co_await RunBlockingAwait(ctx(), [] { return 20; });
    absl::Status b = co_await RunBlockingAwait(ctx(), [] {});
    const std::string word(40, 'w');  // a capture that lives on the heap
    auto length = [word] { return static_cast<int>(word.size()); };
    absl::StatusOr<int> c = co_await RunBlockingAwait(ctx(), length);
    co_return a.value_or(-1) + (b.ok() ? 22 : 0) + c.value_or(-100) - 40;
  }
};

TEST(ExecutorTest, CoroutineFormSuspendsUntilTheResultArrives) {
  ActorSystem system({.threads = 2});
  auto r = system.Spawn<CoRequester>().value();
  EXPECT_THAT(system.Ask(r, Compute{}, absl::Seconds(10)).get(), IsOkAndHolds(42));
}

}  // namespace
}  // namespace troupe
