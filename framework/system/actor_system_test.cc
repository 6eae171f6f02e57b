// The ActorSystem on real worker threads: ordering, exactly-once delivery, mutual exclusion of
// handlers, stealing, idle CPU, asks and shutdown under load.
#include "framework/system/actor_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
#include "framework/base/process_cpu.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;

#ifdef TROUPE_SANITIZED
constexpr int kScale = 10;
#else
constexpr int kScale = 1;
#endif

struct Numbered {
  int sender;
  int seq;
};
using SinkProtocol = Protocol<Numbered>;

// Checks per-sender FIFO order and counts every message; notifies when all have arrived.
class Sink : public Actor<Sink, SinkProtocol> {
 public:
  struct Report {
    std::vector<int> received;  // per sender
    int out_of_order = 0;
    int concurrent_entries = 0;
    Notification done;
  };
  Sink(int senders, int per_sender, Report* report)
      : expected_total_(senders * per_sender), next_(senders, 0), report_(report) {
    report_->received.assign(senders, 0);
  }
  void Handle(Numbered m) {
    if (inside_.exchange(true)) ++report_->concurrent_entries;
    if (m.seq != next_[m.sender]) ++report_->out_of_order;
    next_[m.sender] = m.seq + 1;
    ++report_->received[m.sender];
    inside_.store(false);
    if (++total_ == expected_total_) report_->done.Notify();
  }

 private:
  const int expected_total_;
  int total_ = 0;
  std::vector<int> next_;
  Report* report_;
  std::atomic<bool> inside_{false};
};

struct Start {};
using ProducerProtocol = Protocol<Start>;
// Sends `count` numbered messages in chunks, re-posting itself so it shares its worker.
class Producer : public Actor<Producer, ProducerProtocol> {
 public:
  Producer(int id, int count, ActorRef<SinkProtocol> sink)
      : id_(id), count_(count), sink_(std::move(sink)) {}
  void Handle(Start) { SendChunk(); }

 private:
  void SendChunk() {
    for (int i = 0; i < 256 && next_ < count_; ++i) sink_.Tell(Numbered{id_, next_++});
    if (next_ < count_) ctx().Post([this] { SendChunk(); });
  }
  int id_, count_, next_ = 0;
  ActorRef<SinkProtocol> sink_;
};

class ActorSystemStressTest : public ::testing::TestWithParam<uint32_t> {};

// With the default run queue, and with a tiny one (4 slots) so that overflow into the injection
// queue and stealing run constantly.
INSTANTIATE_TEST_SUITE_P(RunQueueCapacity, ActorSystemStressTest, ::testing::Values(256u, 4u));

TEST_P(ActorSystemStressTest, FifoPerSenderAndExactlyOnceFromActorsAndForeignThreads) {
  ActorSystem system({.threads = 4, .run_queue_capacity = GetParam()});
  constexpr int kActorSenders = 4, kThreadSenders = 4;
  const int per_sender = 100000 / kScale;
  Sink::Report report;
  auto sink = system.Spawn<Sink>(kActorSenders + kThreadSenders, per_sender, &report).value();
  for (int i = 0; i < kActorSenders; ++i) {
    system.Spawn<Producer>(i, per_sender, sink).value().Tell(Start{});
  }
  std::vector<std::thread> threads;
  for (int i = kActorSenders; i < kActorSenders + kThreadSenders; ++i) {
    threads.emplace_back([&, i] {
      for (int seq = 0; seq < per_sender; ++seq) sink.Tell(Numbered{i, seq});
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(report.done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(report.out_of_order, 0);
  EXPECT_EQ(report.concurrent_entries, 0);
  for (int count : report.received) EXPECT_EQ(count, per_sender);
  EXPECT_EQ(system.stats().dead_letters, 0u);
}

// Many actors, each flooded by several producers on more workers than cores: a handler never
// overlaps with itself.
TEST_P(ActorSystemStressTest, HandlersNeverRunConcurrentlyWithThemselves) {
  ActorSystem system({.threads = 4, .budget = 8, .run_queue_capacity = GetParam()});
  constexpr int kSinks = 16, kProducersPerSink = 4;
  const int per_producer = 5000 / kScale;
  std::vector<std::unique_ptr<Sink::Report>> reports;
  std::vector<ActorRef<SinkProtocol>> sinks;
  for (int s = 0; s < kSinks; ++s) {
    reports.push_back(std::make_unique<Sink::Report>());
    sinks.push_back(
        system.Spawn<Sink>(kProducersPerSink, per_producer, reports.back().get()).value());
  }
  for (int s = 0; s < kSinks; ++s) {
    for (int p = 0; p < kProducersPerSink; ++p) {
      system.Spawn<Producer>(p, per_producer, sinks[s]).value().Tell(Start{});
    }
  }
  for (auto& r : reports) {
    ASSERT_TRUE(r->done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    EXPECT_EQ(r->concurrent_entries, 0);
    EXPECT_EQ(r->out_of_order, 0);
  }
}

// Fan-out from one actor: its worker's queue fills and the other workers steal.
struct Work {
  int spin_us;
};
using WorkProtocol = Protocol<Work>;
class Busy : public Actor<Busy, WorkProtocol> {
 public:
  explicit Busy(std::atomic<int>* done) : done_(done) {}
  void Handle(Work w) {
    const absl::Time until = absl::Now() + absl::Microseconds(w.spin_us);
    while (absl::Now() < until) {
    }
    done_->fetch_add(1);
  }

 private:
  std::atomic<int>* done_;
};
struct FanOut {
  int n;
};
using FanProtocol = Protocol<FanOut>;
class Fanner : public Actor<Fanner, FanProtocol> {
 public:
  explicit Fanner(std::atomic<int>* done) : done_(done) {}
  void Handle(FanOut f) {
    for (int i = 0; i < f.n; ++i) ctx().Spawn<Busy>(done_).value().Tell(Work{200});
  }

 private:
  std::atomic<int>* done_;
};

TEST(ActorSystemTest, IdleWorkersStealWork) {
  ActorSystem system({.threads = 2});
  std::atomic<int> done{0};
  auto fanner = system.Spawn<Fanner>(&done).value();
  fanner.Tell(FanOut{100});
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  // Real time: the busy actors run on the system's worker threads.
  while (done.load() < 100 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(done.load(), 100);
  EXPECT_GE(system.stats().scheduler.steals, 1u);
}

TEST(ActorSystemTest, AnIdleSystemUsesNearlyNoCpu) {
  ActorSystem system({.threads = 2});
  Sink::Report report;
  auto sink = system.Spawn<Sink>(1, 1000, &report).value();
  for (int i = 0; i < 1000; ++i) sink.Tell(Numbered{0, i});
  ASSERT_TRUE(report.done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Real time: after the last message the workers spin a while before they park.
  absl::SleepFor(absl::Milliseconds(50));
  const double before = ProcessCpuSeconds();
  // Idle for a second on purpose: spinning workers would show in the CPU time.
  absl::SleepFor(absl::Seconds(1));
  const double used = ProcessCpuSeconds() - before;
  EXPECT_LT(used, 0.05) << "an idle system used " << used << " s of CPU in 1 s";
}

struct Echo {
  int value;
};
struct Hold {};
using EchoProtocol = Protocol<Request<Echo, int>, Request<Hold, int>>;
class EchoActor : public Actor<EchoActor, EchoProtocol> {
 public:
  int Handle(Echo e) { return e.value; }
  void Handle(Hold, Promise<int> p) { held_.push_back(std::move(p)); }

 private:
  std::vector<Promise<int>> held_;
};

TEST(ActorSystemTest, AsksFromManyThreadsAndRealTimeouts) {
  ActorSystem system({.threads = 2});
  auto echo = system.Spawn<EchoActor>().value();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (system.Ask(echo, Echo{t * 1000 + i}, absl::Seconds(10)).get().value_or(-1) ==
            t * 1000 + i) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 800);
  const absl::Time start = absl::Now();
  EXPECT_THAT(system.Ask(echo, Hold{}, absl::Milliseconds(50)).get(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(45));
}

TEST(ActorSystemTest, CallbackAsksCompleteOnceWithTheReplyOrTheDeadline) {
  ActorSystem system({.threads = 2});
  auto echo = system.Spawn<EchoActor>().value();
  std::atomic<int> sum{0};
  std::atomic<int> calls{0};
  for (int i = 1; i <= 100; ++i) {
    system.Ask(echo, Echo{i}, absl::Seconds(10), [&](absl::StatusOr<int> r) {
      sum.fetch_add(r.value_or(-100000));
      calls.fetch_add(1);
    });
  }
  std::atomic<int> expired{0};
  system.Ask(echo, Hold{}, absl::Milliseconds(30), [&](absl::StatusOr<int> r) {
    if (r.status().code() == absl::StatusCode::kDeadlineExceeded) expired.fetch_add(1);
    calls.fetch_add(1);
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Real time: replies come from worker threads, the 30 ms deadline from a real timer.
  while (calls.load() < 101 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));  // nothing runs twice
  EXPECT_EQ(calls.load(), 101);
  EXPECT_EQ(sum.load(), 5050);
  EXPECT_EQ(expired.load(), 1);
}

// Ping-pong pairs keep messages in flight while the system shuts down: the shutdown finishes,
// and every message sent (Serve, Partner, Hit: each counted when sent and when handled) was
// either handled or counted as a dead letter.
struct Hit {
  int hops_left;
};
struct Partner;
using PlayerProtocol = Protocol<Hit, Partner>;
struct Partner {
  ActorRef<PlayerProtocol> ref;
};
class Player : public Actor<Player, PlayerProtocol> {
 public:
  Player(std::atomic<uint64_t>* handled, std::atomic<uint64_t>* sent)
      : handled_(handled), sent_(sent) {}
  void Handle(Partner p) {
    handled_->fetch_add(1, std::memory_order_relaxed);
    partner_ = std::move(p.ref);
  }
  void Handle(Hit h) {
    handled_->fetch_add(1, std::memory_order_relaxed);
    if (h.hops_left > 0) {
      sent_->fetch_add(1, std::memory_order_relaxed);
      partner_.Tell(Hit{h.hops_left - 1});
    }
  }

 private:
  ActorRef<PlayerProtocol> partner_;
  std::atomic<uint64_t>* handled_;
  std::atomic<uint64_t>* sent_;
};

struct Serve {
  int balls;
};
using TableProtocol = Protocol<Serve>;
// Owns a pair of players (its children) and serves balls between them.
class Table : public Actor<Table, TableProtocol> {
 public:
  Table(std::atomic<uint64_t>* handled, std::atomic<uint64_t>* sent)
      : handled_(handled), sent_(sent) {}
  void Handle(Serve s) {
    handled_->fetch_add(1, std::memory_order_relaxed);
    auto a = ctx().Spawn<Player>(handled_, sent_).value();
    auto b = ctx().Spawn<Player>(handled_, sent_).value();
    sent_->fetch_add(2, std::memory_order_relaxed);
    a.Tell(Partner{b});
    b.Tell(Partner{a});
    for (int i = 0; i < s.balls; ++i) {
      sent_->fetch_add(1, std::memory_order_relaxed);
      a.Tell(Hit{1 << 30});
    }
  }

 private:
  std::atomic<uint64_t>* handled_;
  std::atomic<uint64_t>* sent_;
};

TEST(ActorSystemTest, ShutdownWithMessagesInFlightLosesNothingUnaccounted) {
  std::atomic<uint64_t> handled{0}, sent{0};
  uint64_t dead = 0;
  {
    ActorSystem system({.threads = 2});
    for (int t = 0; t < 8; ++t) {
      sent.fetch_add(1);
      system.Spawn<Table>(&handled, &sent).value().Tell(Serve{4});
    }
    // The tables get going, so messages are in flight at the shutdown.
    ASSERT_TRUE(::troupe::testing::WaitFor([&] { return handled.load() > 1000; }));
    const absl::Time start = absl::Now();
    system.Shutdown();
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
    EXPECT_EQ(system.stats().live_actors, 0u);
    dead = system.stats().dead_letters;
  }
  EXPECT_EQ(handled.load() + dead, sent.load());
}

TEST(ActorSystemTest, DestroyingASystemWithLiveBusyActorsIsClean) {
  std::atomic<uint64_t> handled{0}, sent{0};
  auto system = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 2});
  for (int t = 0; t < 4; ++t) system->Spawn<Table>(&handled, &sent).value().Tell(Serve{2});
  // The tables get going, so the system is destroyed with busy actors.
  ASSERT_TRUE(::troupe::testing::WaitFor([&] { return handled.load() > 100; }));
  system.reset();  // no hang; ASan reports any leak
  SUCCEED();
}

// Records its name when it stops; optionally blocks in a handler first.
struct StopOrder {
  Mutex mu;
  std::vector<std::string> names;
  std::atomic<bool> blocking{false};  // a Block handler has started
};
struct Block {
  absl::Duration for_how_long;
};
class Recorder : public Actor<Recorder, Protocol<Block>> {
 public:
  Recorder(std::string name, std::shared_ptr<StopOrder> order)
      : name_(std::move(name)), order_(std::move(order)) {}
  // Blocks its worker on purpose: a shutdown is to meet an actor stuck in a handler.
  void Handle(Block b) {
    order_->blocking = true;
    absl::SleepFor(b.for_how_long);
  }
  void OnStop() override {
    MutexLock lock(&order_->mu);
    order_->names.push_back(name_);
  }

 private:
  std::string name_;
  std::shared_ptr<StopOrder> order_;
};

TEST(ActorSystemTest, ShutdownStopsTopLevelActorsInReverseSpawnOrder) {
  auto order = std::make_shared<StopOrder>();
  {
    ActorSystem system({.threads = 2});
    for (const char* name : {"lobby", "room", "session1", "session2"}) {
      ASSERT_TRUE(system.Spawn<Recorder>(name, order).ok());
    }
    system.Shutdown();
  }
  EXPECT_THAT(order->names,
              ::testing::ElementsAre("session2", "session1", "room", "lobby"));
}

TEST(ActorSystemTest, AnActorPastItsShutdownDeadlineDoesNotHoldUpTheOthers) {
  auto order = std::make_shared<StopOrder>();
  ActorSystem system({.threads = 2});
  ASSERT_TRUE(system.Spawn<Recorder>("first", order).ok());
  auto stuck = system.Spawn<Recorder>("stuck", order).value();
  stuck.Tell(Block{absl::Milliseconds(500)});
  ASSERT_TRUE(::troupe::testing::WaitFor([&] { return order->blocking.load(); }));
  const absl::Time start = absl::Now();
  system.Shutdown(absl::Milliseconds(50));
  // "first" was stopped after the 50 ms deadline, while "stuck" was still blocked.
  EXPECT_THAT(order->names, ::testing::ElementsAre("first", "stuck"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));  // and then waited for it
}

}  // namespace
}  // namespace troupe
