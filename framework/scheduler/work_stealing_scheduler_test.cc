#include "framework/scheduler/work_stealing_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
#include "framework/base/process_cpu.h"

namespace troupe {
namespace {

// Counts its runs; optionally busy-works, yields, or schedules children from inside its turn.
struct CountingTask final : Schedulable {
  RunOutcome Run(int) override {
    runs.fetch_add(1, std::memory_order_relaxed);
    if (busy > absl::ZeroDuration()) {
      const absl::Time until = absl::Now() + busy;
      while (absl::Now() < until) {
      }
    }
    if (on_run) on_run();
    if (yields_left > 0) {
      --yields_left;
      return RunOutcome::kYield;
    }
    if (done != nullptr) done->fetch_add(1, std::memory_order_acq_rel);
    return RunOutcome::kIdle;
  }
  std::atomic<int> runs{0};
  absl::Duration busy = absl::ZeroDuration();
  int yields_left = 0;
  std::function<void()> on_run;
  std::atomic<int>* done = nullptr;
};

void WaitFor(const std::atomic<int>& counter, int target) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  // Real time: the tasks run on the scheduler's worker threads.
  while (counter.load() < target && absl::Now() < deadline) absl::SleepFor(absl::Microseconds(200));
  ASSERT_EQ(counter.load(), target);
}

TEST(WorkStealingSchedulerTest, RunsEveryTaskScheduledFromForeignThreads) {
  WorkStealingScheduler scheduler({.threads = 2});
  constexpr int kTasks = 2000;
  std::vector<CountingTask> tasks(kTasks);
  std::atomic<int> done{0};
  for (auto& t : tasks) t.done = &done;
  std::thread a([&] {
    for (int i = 0; i < kTasks; i += 2) scheduler.Schedule(&tasks[i]);
  });
  std::thread b([&] {
    for (int i = 1; i < kTasks; i += 2) scheduler.Schedule(&tasks[i]);
  });
  a.join();
  b.join();
  WaitFor(done, kTasks);
  scheduler.Shutdown();
  for (auto& t : tasks) EXPECT_EQ(t.runs.load(), 1);
  EXPECT_GE(scheduler.stats().injected, 1u);
}

TEST(WorkStealingSchedulerTest, YieldedTasksRunAgain) {
  WorkStealingScheduler scheduler({.threads = 2});
  CountingTask t;
  std::atomic<int> done{0};
  t.yields_left = 5;
  t.done = &done;
  scheduler.Schedule(&t);
  WaitFor(done, 1);
  EXPECT_EQ(t.runs.load(), 6);
}

// One task schedules busy children from its turn onto its own worker's run queue (which holds
// them all); the other worker can only get them by stealing.
TEST(WorkStealingSchedulerTest, IdleWorkersStealFromBusyOnes) {
  WorkStealingScheduler scheduler({.threads = 2, .run_queue_capacity = 64});
  constexpr int kChildren = 32;
  std::vector<CountingTask> children(kChildren);
  std::atomic<int> done{0};
  for (auto& c : children) {
    c.done = &done;
    c.busy = absl::Microseconds(500);
  }
  CountingTask parent;
  parent.on_run = [&] {
    for (auto& c : children) scheduler.Schedule(&c);
  };
  scheduler.Schedule(&parent);
  WaitFor(done, kChildren);
  const SchedulerStats stats = scheduler.stats();
  EXPECT_GE(stats.steals, 1u) << "the second worker never stole";
  EXPECT_GE(stats.stolen, stats.steals);
  EXPECT_EQ(stats.overflows, 0u);
  for (auto& c : children) EXPECT_EQ(c.runs.load(), 1);
}

// A tiny ring overflows into the injection queue; nothing is lost or run twice.
TEST(WorkStealingSchedulerTest, RunQueueOverflowMovesWorkToInjectionQueue) {
  WorkStealingScheduler scheduler({.threads = 2, .run_queue_capacity = 4});
  constexpr int kChildren = 200;
  std::vector<CountingTask> children(kChildren);
  std::atomic<int> done{0};
  for (auto& c : children) c.done = &done;
  CountingTask parent;
  parent.on_run = [&] {
    for (auto& c : children) scheduler.Schedule(&c);
  };
  scheduler.Schedule(&parent);
  WaitFor(done, kChildren);
  EXPECT_GE(scheduler.stats().overflows, 1u);
  for (auto& c : children) EXPECT_EQ(c.runs.load(), 1);
}

TEST(WorkStealingSchedulerTest, ChainedSchedulingRunsInLifoSlot) {
  WorkStealingScheduler scheduler({.threads = 2});
  constexpr int kHops = 10000;
  std::atomic<int> hops{0};
  std::atomic<int> done{0};
  CountingTask a, b;
  a.on_run = [&] {
    if (hops.fetch_add(1) + 1 < kHops)
      scheduler.Schedule(&b);
    else
      done = 1;
  };
  b.on_run = [&] {
    if (hops.fetch_add(1) + 1 < kHops)
      scheduler.Schedule(&a);
    else
      done = 1;
  };
  scheduler.Schedule(&a);
  WaitFor(done, 1);
  EXPECT_GE(scheduler.stats().lifo_turns, static_cast<uint64_t>(kHops / 2));
}

TEST(WorkStealingSchedulerTest, TimersFireOnWorkersInOrder) {
  WorkStealingScheduler scheduler({.threads = 2});
  Mutex mu;
  std::vector<int> order;
  Notification all;
  const absl::Time now = scheduler.Now();
  for (int i : {3, 1, 2}) {
    scheduler.AddTimer(now + absl::Milliseconds(10 * i), absl::ZeroDuration(), [&, i] {
      MutexLock lock(&mu);
      order.push_back(i);
      EXPECT_TRUE(scheduler.IsWorkerThread());
      if (order.size() == 3) all.Notify();
    });
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(10)));
  MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(scheduler.IsWorkerThread());
}

TEST(WorkStealingSchedulerTest, AnEarlierTimerWakesAParkedWorker) {
  WorkStealingScheduler scheduler({.threads = 1});
  Notification fired;
  scheduler.AddTimer(scheduler.Now() + absl::Hours(1), absl::ZeroDuration(), [] {});
  absl::SleepFor(absl::Milliseconds(50));  // the worker parks until the one-hour timer
  const absl::Time start = absl::Now();
  scheduler.AddTimer(scheduler.Now() + absl::Milliseconds(5), absl::ZeroDuration(),
                     [&] { fired.Notify(); });
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(WorkStealingSchedulerTest, IdleSchedulerUsesNearlyNoCpu) {
  WorkStealingScheduler scheduler({.threads = 2});
  CountingTask warmup;
  std::atomic<int> done{0};
  warmup.done = &done;
  scheduler.Schedule(&warmup);
  WaitFor(done, 1);
  // Real time: after the warm-up the workers spin a while before they park.
  absl::SleepFor(absl::Milliseconds(50));
  const double before = ProcessCpuSeconds();
  // Idle for a second on purpose: spinning workers would show in the CPU time.
  absl::SleepFor(absl::Seconds(1));
  const double used = ProcessCpuSeconds() - before;
  // Busy-spinning workers would burn ~2 s here.
  EXPECT_LT(used, 0.05) << "idle workers used " << used << " s of CPU in 1 s";
}

// The seam the I/O layer uses: workers sleep in (and are woken through) a Parker supplied by
// parker_factory. This one counts, and forwards to a FutexParker.
class CountingParker final : public Parker {
 public:
  CountingParker(std::atomic<int>* parks, std::atomic<int>* unparks)
      : parks_(parks), unparks_(unparks) {}
  void Park(absl::Duration timeout) override {
    parks_->fetch_add(1);
    inner_.Park(timeout);
  }
  void Unpark() override {
    unparks_->fetch_add(1);
    inner_.Unpark();
  }

 private:
  FutexParker inner_;
  std::atomic<int>* parks_;
  std::atomic<int>* unparks_;
};

TEST(WorkStealingSchedulerTest, WorkersParkInTheSuppliedParkerAndAreWokenThroughIt) {
  std::atomic<int> parks{0}, unparks{0}, created{0};
  WorkStealingScheduler scheduler(
      {.threads = 2, .spin_before_park = absl::ZeroDuration(), .parker_factory = [&](int) {
         created.fetch_add(1);
         return std::make_unique<CountingParker>(&parks, &unparks);
       }});
  EXPECT_EQ(created.load(), 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Real time: the idle workers park on their own threads.
  while (parks.load() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_GE(parks.load(), 2);  // both idle workers sleep in our parker
  const int unparks_before = unparks.load();
  CountingTask t;
  std::atomic<int> done{0};
  t.done = &done;
  scheduler.Schedule(&t);  // from a foreign thread: a sleeping worker must be woken
  WaitFor(done, 1);
  EXPECT_GT(unparks.load(), unparks_before);
}

// Records on which worker each of its runs took place.
struct WhereTask final : Schedulable {
  explicit WhereTask(const Scheduler* s) : scheduler(s) {}
  RunOutcome Run(int) override {
    const int w = scheduler->CurrentWorker();
    if (w == 0) on_zero.fetch_add(1, std::memory_order_relaxed);
    if (w == 1) on_one.fetch_add(1, std::memory_order_relaxed);
    if (busy > absl::ZeroDuration()) {
      const absl::Time until = absl::Now() + busy;
      while (absl::Now() < until) {
      }
    }
    if (on_run) on_run();
    done.fetch_add(1, std::memory_order_acq_rel);
    return RunOutcome::kIdle;
  }
  const Scheduler* scheduler;
  std::atomic<int> on_zero{0}, on_one{0}, done{0};
  absl::Duration busy = absl::ZeroDuration();
  std::function<void()> on_run;
};

// A homed task runs on its home whoever schedules it: a foreign thread, the other worker, or
// its own turns (through the home's inbox, never a steal), while the other worker is idle and
// searching. Without homes the other worker would run some of them (it steals whatever is
// queued on a busy worker; see IdleWorkersStealFromBusyOnes).
TEST(WorkStealingSchedulerTest, HomedTasksRunOnTheirHomeWorker) {
  WorkStealingScheduler scheduler({.threads = 2, .home_max_wait = absl::InfiniteDuration()});
  constexpr int kTasks = 64, kRounds = 200;
  std::vector<std::unique_ptr<WhereTask>> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(std::make_unique<WhereTask>(&scheduler));
    tasks.back()->SetHomeWorker(1);
    tasks.back()->busy = absl::Microseconds(5);
  }
  // A task homed on worker 0 schedules the others from its turns; they reschedule themselves.
  WhereTask driver(&scheduler);
  driver.SetHomeWorker(0);
  std::atomic<int> round{0};
  driver.on_run = [&] {
    for (auto& t : tasks) scheduler.Schedule(t.get());
  };
  for (auto& t : tasks) {
    WhereTask* raw = t.get();
    raw->on_run = [&, raw] {
      if (raw->done.load() + 1 < kRounds / 2) scheduler.Schedule(raw);
    };
  }
  scheduler.Schedule(&driver);
  WaitFor(driver.done, 1);
  for (auto& t : tasks) WaitFor(t->done, kRounds / 2);
  for (int i = 0; i < kTasks; ++i) scheduler.Schedule(tasks[i].get());  // from a foreign thread
  for (auto& t : tasks) WaitFor(t->done, kRounds / 2 + 1);
  scheduler.Shutdown();
  EXPECT_EQ(driver.on_zero.load(), 1);
  for (auto& t : tasks) {
    EXPECT_EQ(t->on_zero.load(), 0);
    EXPECT_EQ(t->on_one.load(), kRounds / 2 + 1);
  }
  EXPECT_GE(scheduler.stats().sent_home, static_cast<uint64_t>(kTasks));
  EXPECT_EQ(scheduler.stats().spilled, 0u);
}

// An overloaded home (its homed backlog waits past home_max_wait) lets the idle worker take
// half of it; the rest still runs at home.
TEST(WorkStealingSchedulerTest, OverloadedHomeSharesItsBacklog) {
  WorkStealingScheduler scheduler({.threads = 2, .home_max_wait = absl::Milliseconds(1)});
  constexpr int kTasks = 200;
  std::vector<std::unique_ptr<WhereTask>> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(std::make_unique<WhereTask>(&scheduler));
    tasks.back()->SetHomeWorker(0);
    tasks.back()->busy = absl::Microseconds(200);  // 40 ms of work queued on worker 0
  }
  for (auto& t : tasks) scheduler.Schedule(t.get());
  for (auto& t : tasks) WaitFor(t->done, 1);
  scheduler.Shutdown();
  int on_one = 0;
  for (auto& t : tasks) on_one += t->on_one.load();
  EXPECT_GT(on_one, 0);
  EXPECT_LT(on_one, kTasks);
  EXPECT_GT(scheduler.stats().spilled, 0u);
}

// Schedules `stuck` once both workers of `scheduler` are asleep (real time: the one woken for
// it wakes nobody else) as a turn that spins until `release` (or 20 s); returns the worker it
// runs on, or -1 if it did not start within 10 s.
int StartStuckTurn(WorkStealingScheduler& scheduler, WhereTask& stuck,
                   std::atomic<bool>& release) {
  stuck.on_run = [&release] {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!release.load() && absl::Now() < give_up) {
    }
  };
  absl::SleepFor(absl::Milliseconds(30));
  scheduler.Schedule(&stuck);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stuck.on_zero.load() + stuck.on_one.load() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Microseconds(100));
  }
  if (stuck.on_zero.load() + stuck.on_one.load() != 1) return -1;
  return stuck.on_zero.load() == 1 ? 0 : 1;
}

// A Parker whose "I/O" another worker may take over (as the epoll one's): counts the polls a
// taker makes; the hold is a flag.
class TakeOverParker final : public Parker {
 public:
  void Park(absl::Duration timeout) override { inner_.Park(timeout); }
  void Unpark() override { inner_.Unpark(); }
  bool MayBeTakenOver() const override { return true; }
  bool CanBeTakenOver() override { return true; }
  bool TryTakeOver() override { return !held_.exchange(true); }
  int PollTakenOver() override {
    polls_taken_over.fetch_add(1);
    return 0;
  }
  void HandBack() override { held_.store(false); }
  std::atomic<int> polls_taken_over{0};

 private:
  FutexParker inner_;
  std::atomic<bool> held_{false};
};

// A worker stuck in one long turn has its I/O polled and its homed work run by the other,
// which was asleep when the turn began: the turn watchdog wakes it (slow_turn 100 ms: it looks
// every 25 ms), and it takes over. Without take-overs the homed tasks would wait in the stuck
// worker's inbox until the turn ends (20 s here).
TEST(WorkStealingSchedulerTest, AStuckWorkersHomedWorkRunsOnTheOtherWorker) {
  std::vector<TakeOverParker*> parkers(2);
  WorkStealingScheduler scheduler({.threads = 2,
                                   .spin_before_park = absl::ZeroDuration(),
                                   .parker_factory = [&](int i) {
                                     auto p = std::make_unique<TakeOverParker>();
                                     parkers[i] = p.get();
                                     return p;
                                   }});
  std::atomic<bool> release{false};
  WhereTask stuck(&scheduler);
  const int home = StartStuckTurn(scheduler, stuck, release);
  ASSERT_GE(home, 0);
  absl::SleepFor(absl::Milliseconds(30));  // the stall is well past take_over_after
  std::vector<std::unique_ptr<WhereTask>> homed;
  for (int i = 0; i < 8; ++i) {
    homed.push_back(std::make_unique<WhereTask>(&scheduler));
    homed.back()->SetHomeWorker(home);
    scheduler.Schedule(homed.back().get());  // into the stuck worker's inbox
  }
  for (auto& t : homed) WaitFor(t->done, 1);
  EXPECT_EQ(stuck.done.load(), 0) << "the homed tasks waited for the stuck turn to end";
  release = true;
  WaitFor(stuck.done, 1);
  scheduler.Shutdown();
  for (auto& t : homed) EXPECT_EQ((home == 0 ? t->on_one : t->on_zero).load(), 1);
  EXPECT_GT(parkers[home]->polls_taken_over.load(), 0);
  EXPECT_GT(scheduler.stats().take_overs, 0u);
  EXPECT_EQ(scheduler.stats().taken_over_turns, 8u);
}

// A Parker whose I/O every worker drives (as the shared reactor's): counts its wake-ups.
class SharedIoParker final : public Parker {
 public:
  void Park(absl::Duration timeout) override { inner_.Park(timeout); }
  void Unpark() override {
    unparks.fetch_add(1);
    inner_.Unpark();
  }
  bool SharesIo() const override { return true; }
  std::atomic<int> unparks{0};

 private:
  FutexParker inner_;
};

// Shared I/O: a worker stuck in one long turn cannot serve it, and the other worker sleeps
// (nothing of the stuck worker's is its to run): the turn watchdog wakes it, so that it goes
// to wait on the I/O (the shared reactor's seat is free). Without the wake-up it sleeps on.
TEST(WorkStealingSchedulerTest, AStuckTurnWakesASleepingWorkerWhenIoIsShared) {
  std::vector<SharedIoParker*> parkers(2);
  WorkStealingScheduler scheduler({.threads = 2,
                                   .spin_before_park = absl::ZeroDuration(),
                                   .parker_factory = [&](int i) {
                                     auto p = std::make_unique<SharedIoParker>();
                                     parkers[i] = p.get();
                                     return p;
                                   }});
  std::atomic<bool> release{false};
  WhereTask stuck(&scheduler);
  const int stuck_on = StartStuckTurn(scheduler, stuck, release);
  ASSERT_GE(stuck_on, 0);
  SharedIoParker& other = *parkers[1 - stuck_on];
  const int before = other.unparks.load();
  absl::SleepFor(absl::Milliseconds(200));  // the watchdog looks every 25 ms (slow_turn/4)
  EXPECT_GT(other.unparks.load(), before) << "nobody woke the sleeping worker";
  release = true;
  WaitFor(stuck.done, 1);
  scheduler.Shutdown();
}

// A Parker whose "I/O" makes work runnable inside Park, on its worker's thread outside any
// turn, as a backend's completions do: Deliver() hands it tasks for its worker's next park.
class DeliveringParker final : public Parker {
 public:
  // `*scheduler`: set once the scheduler (which makes its parkers first) exists.
  explicit DeliveringParker(Scheduler* const* scheduler) : scheduler_(scheduler) {}
  void Park(absl::Duration timeout) override {
    if (!HasPending()) {
      sleeping.store(true);
      inner_.Park(timeout);
      sleeping.store(false);
    }
    std::vector<Schedulable*> batch;
    {
      MutexLock lock(&mu_);
      batch.swap(pending_);
    }
    for (Schedulable* t : batch) (*scheduler_)->Schedule(t);
  }
  void Unpark() override { inner_.Unpark(); }
  void Deliver(const std::vector<Schedulable*>& tasks) {
    {
      MutexLock lock(&mu_);
      pending_.insert(pending_.end(), tasks.begin(), tasks.end());
    }
    inner_.Unpark();
  }
  // In the kernel sleep (its worker registered as idle before it got here).
  std::atomic<bool> sleeping{false};

 private:
  bool HasPending() {
    MutexLock lock(&mu_);
    return !pending_.empty();
  }
  Scheduler* const* const scheduler_;
  FutexParker inner_;
  Mutex mu_;
  std::vector<Schedulable*> pending_ ABSL_GUARDED_BY(mu_);
};

// Two workers, the first of which delivers "I/O" (DeliveringParker), with `wake_cost`; the
// first worker's mean turn is measured (the watchdog's) before the test goes on.
class DeliveredWorkTest : public ::testing::Test {
 protected:
  void Start(absl::Duration wake_cost) {
    scheduler_ = std::make_unique<WorkStealingScheduler>(WorkStealingOptions{
        .threads = 2,
        .spin_before_park = absl::ZeroDuration(),  // an idle worker sleeps: only a wake finds it
        .wake_cost = wake_cost,
        .parker_factory = [this](int i) {
          auto p = std::make_unique<DeliveringParker>(&scheduler_raw_);
          parkers_[i] = p.get();
          return p;
        }});
    scheduler_raw_ = scheduler_.get();
    // Hundreds of short turns a watchdog period on the first worker, until it has a mean turn.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (scheduler_->turn_monitor().mean_turn_ns(0) == 0 && absl::Now() < deadline) {
      std::vector<CountingTask> warm(200);
      std::atomic<int> done{0};
      std::vector<Schedulable*> batch;
      for (auto& t : warm) {
        t.done = &done;
        batch.push_back(&t);
      }
      parkers_[0]->Deliver(batch);
      WaitFor(done, static_cast<int>(warm.size()));
    }
    ASSERT_GT(scheduler_->turn_monitor().mean_turn_ns(0), 0);
  }
  // Delivers `n` tasks of `busy` each on the first worker, once the second sleeps (the
  // warm-up woke it: the mean turn was not measured yet); returns how many ran on the second.
  int RanOnTheSecondWorker(int n, absl::Duration busy) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!parkers_[1]->sleeping.load() && absl::Now() < deadline) {
      absl::SleepFor(absl::Microseconds(100));
    }
    std::vector<std::unique_ptr<WhereTask>> tasks;
    std::vector<Schedulable*> batch;
    for (int i = 0; i < n; ++i) {
      tasks.push_back(std::make_unique<WhereTask>(scheduler_.get()));
      tasks.back()->busy = busy;
      batch.push_back(tasks.back().get());
    }
    parkers_[0]->Deliver(batch);
    int on_one = 0;
    for (auto& t : tasks) {
      WaitFor(t->done, 1);
      on_one += t->on_one.load();
    }
    return on_one;
  }

  std::unique_ptr<WorkStealingScheduler> scheduler_;
  Scheduler* scheduler_raw_ = nullptr;  // what the parkers schedule on
  DeliveringParker* parkers_[2] = {nullptr, nullptr};
};

// Work a worker's I/O makes runnable is run there while that takes less than wake_cost (the
// queue times its mean turn): the sleeping worker is not woken to share a few short turns...
// A 0.5 ms turn the kernel preempts for a watchdog period (25 ms, on a loaded machine) is a
// long turn with work behind it, which rightly wakes the sleeper: the least of three tries.
// (With every delivery waking it, the sleeper takes a share of each: see the next test.)
TEST_F(DeliveredWorkTest, AFewShortTurnsRunWhereTheirIoWasDeliveredWithoutWakingASleeper) {
  Start(absl::Seconds(1));
  int least = 16;
  for (int i = 0; i < 3 && least > 0; ++i) {
    least = std::min(least, RanOnTheSecondWorker(16, absl::Microseconds(500)));
  }
  EXPECT_EQ(least, 0);
}

// ... and with wake_cost zero it is woken, and takes its share (the most of three tries: on a
// loaded machine the woken thread may get no core before the 8 ms of turns are done).
TEST_F(DeliveredWorkTest, WithoutAWakeCostASleeperIsWokenToShareDeliveredWork) {
  Start(absl::ZeroDuration());
  int most = 0;
  for (int i = 0; i < 3 && most == 0; ++i) {
    most = std::max(most, RanOnTheSecondWorker(16, absl::Microseconds(500)));
  }
  EXPECT_GT(most, 0);
}

// A turn that runs long with delivered work queued behind it (which woke nobody: wake_cost)
// has the turn watchdog wake the sleeping worker, which steals that work: it does not wait for
// the turn to end (20 s here).
TEST_F(DeliveredWorkTest, WorkQueuedBehindALongTurnIsTakenByAWokenSleeper) {
  Start(absl::Seconds(1));
  std::atomic<bool> release{false};
  WhereTask stuck(scheduler_.get());
  stuck.on_run = [&] {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!release && absl::Now() < give_up) absl::SleepFor(absl::Microseconds(100));
  };
  std::vector<std::unique_ptr<WhereTask>> queued;
  std::vector<Schedulable*> batch = {&stuck};
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::make_unique<WhereTask>(scheduler_.get()));
    batch.push_back(queued.back().get());
  }
  parkers_[0]->Deliver(batch);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  auto all_done = [&] {
    for (auto& t : queued) {
      if (t->done.load() == 0) return false;
    }
    return true;
  };
  while (!all_done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(all_done()) << "the queued work waited for the long turn";
  EXPECT_EQ(stuck.done.load(), 0);
  release = true;
  WaitFor(stuck.done, 1);
  scheduler_->Shutdown();
}

TEST(WorkStealingSchedulerTest, CurrentWorkerIsTheWorkersIndexAndMinusOneElsewhere) {
  WorkStealingScheduler scheduler({.threads = 2});
  EXPECT_EQ(scheduler.CurrentWorker(), -1);
  WhereTask t(&scheduler);
  scheduler.Schedule(&t);
  WaitFor(t.done, 1);
  EXPECT_EQ(t.on_zero.load() + t.on_one.load(), 1);
}

TEST(WorkStealingSchedulerTest, ShutdownJoinsPromptlyAndIsIdempotent) {
  auto scheduler = std::make_unique<WorkStealingScheduler>(WorkStealingOptions{.threads = 4});
  const absl::Time start = absl::Now();
  scheduler->Shutdown();
  scheduler->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  scheduler.reset();
}

// A source the way a gRPC completion queue is one: items arrive from another thread; a worker
// takes them in Poll; a parked worker is woken by whoever adds one (the source's own watch).
class ItemSource : public WorkerSource {
 public:
  explicit ItemSource(Scheduler* scheduler) : scheduler_(scheduler) {}
  void Add() {
    pending_.fetch_add(1, std::memory_order_seq_cst);
    const int parked = parked_.load(std::memory_order_seq_cst);
    if (parked >= 0) scheduler_->WakeWorker(parked);
  }
  bool Poll(int w, bool) override {
    EXPECT_EQ(scheduler_->CurrentWorker(), w);
    polls_.fetch_add(1, std::memory_order_relaxed);
    int n = pending_.load(std::memory_order_relaxed);
    while (n > 0 && !pending_.compare_exchange_weak(n, n - 1)) {
    }
    if (n == 0) return false;
    handled_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  bool Parking(int w) override {
    parked_.store(w, std::memory_order_seq_cst);  // then check: an Add meanwhile wakes us
    if (pending_.load(std::memory_order_seq_cst) > 0) {
      parked_.store(-1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void Resumed(int) override { parked_.store(-1, std::memory_order_relaxed); }
  int handled() const { return handled_.load(); }
  uint64_t polls() const { return polls_.load(); }

 private:
  Scheduler* const scheduler_;
  std::atomic<int> pending_{0};
  std::atomic<int> parked_{-1};
  std::atomic<int> handled_{0};
  std::atomic<uint64_t> polls_{0};
};

TEST(WorkerSourceTest, ItemsArrivingWhileTheWorkerSleepsAreHandledOnTheWorker) {
  WorkStealingScheduler scheduler({.threads = 1, .spin_before_park = absl::ZeroDuration()});
  ItemSource source(&scheduler);
  ASSERT_TRUE(scheduler.AddWorkerSource(&source));
  for (int i = 1; i <= 200; ++i) {
    source.Add();
    if (i % 20 == 0) absl::SleepFor(absl::Milliseconds(2));  // let the worker park in between
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Real time: the worker handles the items on its own thread.
  while (source.handled() < 200 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(source.handled(), 200);
  EXPECT_GT(scheduler.stats().parks, 0u);  // it did sleep, and every item still got through
  // Idle: the worker sleeps instead of polling in a loop.
  const uint64_t polls = source.polls();
  absl::SleepFor(absl::Milliseconds(100));  // idle on purpose: a spinning poll shows
  EXPECT_LT(source.polls() - polls, 10u);
  scheduler.RemoveWorkerSource(&source);
  const uint64_t after = source.polls();
  source.Add();
  // Real time: a poll of the removed source would show up meanwhile.
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(source.polls(), after);  // removed: never called again
  scheduler.Shutdown();
}

// Serves worker 0 only, as one gRPC completion queue for two workers does: each item it takes
// in Poll schedules a task, and the worker should not spin (its items reach it parked).
class TaskSource : public WorkerSource {
 public:
  TaskSource(Scheduler* scheduler, std::vector<std::unique_ptr<CountingTask>>* tasks)
      : scheduler_(scheduler), tasks_(tasks) {}
  void Add() {
    pending_.fetch_add(1, std::memory_order_seq_cst);
    if (parked_.load(std::memory_order_seq_cst)) scheduler_->WakeWorker(0);
  }
  bool Poll(int w, bool) override {
    if (w != 0 || pending_.load(std::memory_order_relaxed) == 0) return false;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    scheduler_->Schedule((*tasks_)[next_++].get());
    return true;
  }
  bool Parking(int w) override {
    if (w != 0) return true;
    parked_.store(true, std::memory_order_seq_cst);  // then check: an Add meanwhile wakes us
    if (pending_.load(std::memory_order_seq_cst) > 0) {
      parked_.store(false, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void Resumed(int w) override {
    if (w == 0) parked_.store(false, std::memory_order_relaxed);
  }
  bool SpinBeforePark(int w) override { return w != 0; }

 private:
  Scheduler* const scheduler_;
  std::vector<std::unique_ptr<CountingTask>>* const tasks_;
  size_t next_ = 0;  // worker 0's
  std::atomic<int> pending_{0};
  std::atomic<bool> parked_{false};
};

// What a source's Poll makes runnable runs next on the polling worker, and a worker woken for
// its source wakes no other to search: the idle worker 1 sleeps through 100 items (it used to
// be woken for each one, only to find nothing and park again).
TEST(WorkerSourceTest, WorkASourceMakesRunnableRunsOnItsWorkerAndWakesNoOther) {
  std::atomic<int> parks[2] = {0, 0};
  std::atomic<int> unparks[2] = {0, 0};
  WorkStealingOptions options;
  options.threads = 2;
  options.parker_factory = [&](int w) {
    return std::make_unique<CountingParker>(&parks[w], &unparks[w]);
  };
  WorkStealingScheduler scheduler(options);
  constexpr int kItems = 100;
  std::vector<std::unique_ptr<CountingTask>> tasks;
  std::atomic<int> done{0};
  std::atomic<int> off_worker_0{0};
  for (int i = 0; i < kItems; ++i) {
    tasks.push_back(std::make_unique<CountingTask>());
    tasks.back()->done = &done;
    tasks.back()->on_run = [&scheduler, &off_worker_0] {
      if (scheduler.CurrentWorker() != 0) off_worker_0++;
    };
  }
  TaskSource source(&scheduler, &tasks);
  ASSERT_TRUE(scheduler.AddWorkerSource(&source));
  absl::SleepFor(absl::Milliseconds(20));  // both workers asleep
  const int worker_1_parks = parks[1].load();
  for (int i = 1; i <= kItems; ++i) {
    source.Add();
    WaitFor(done, i);  // one at a time: worker 0 wakes, runs it, parks again
    // Real time: worker 0 parks again before the next item.
    absl::SleepFor(absl::Microseconds(300));
  }
  EXPECT_EQ(off_worker_0.load(), 0);
  EXPECT_LT(parks[1].load() - worker_1_parks, kItems / 10);
  EXPECT_GE(parks[0].load(), kItems / 2);  // it did sleep between items
  scheduler.RemoveWorkerSource(&source);
  scheduler.Shutdown();
}

}  // namespace
}  // namespace troupe