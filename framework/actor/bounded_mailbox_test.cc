// Bounded mailboxes: each overflow policy under a producer far faster than its consumer keeps
// memory flat and its counts exact (processed + refused/dropped = sent); backpressure never
// deadlocks and times out cleanly.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "framework/actor/lifecycle.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "framework/testing/process_stats.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::OpenFds;
using ::troupe::testing::RssKiB;

using ::troupe::testing::WaitFor;

constexpr uint32_t kCapacity = 100;

struct Sink {
  std::atomic<bool> gate_open{true};
  std::atomic<bool> blocked{false};
  std::atomic<int64_t> processed{0};
  std::atomic<int64_t> last{-1};
  std::atomic<int64_t> out_of_order{0};
  absl::Duration work = absl::ZeroDuration();
};

struct Item {
  int64_t n;
};
struct Probe {};
using ConsumerProtocol = Protocol<Item, Request<Probe, int>>;

template <OverflowPolicy kPolicy, uint32_t kCap = kCapacity>
class Consumer : public Actor<Consumer<kPolicy, kCap>, ConsumerProtocol> {
 public:
  static constexpr MailboxLimit kMailboxLimit{kCap, kPolicy};
  explicit Consumer(std::shared_ptr<Sink> sink) : sink_(std::move(sink)) {}
  void Handle(Item item) {
    if (!sink_->gate_open.load()) {
      sink_->blocked = true;
      // Blocks the worker on purpose until the test opens the gate: the mailbox fills.
      while (!sink_->gate_open.load()) absl::SleepFor(absl::Milliseconds(1));
    }
    if (item.n <= sink_->last.load()) ++sink_->out_of_order;
    sink_->last = item.n;
    if (sink_->work > absl::ZeroDuration()) {
      const absl::Time until = absl::Now() + sink_->work;
      while (absl::Now() < until) {
      }
    }
    ++sink_->processed;
  }
  int Handle(Probe) { return 1; }

 private:
  std::shared_ptr<Sink> sink_;
};

class BoundedMailboxTest : public ::testing::Test {
 protected:
  // Blocks the consumer inside its first message, so what is sent next only queues.
  template <typename C>
  ActorRef<ConsumerProtocol> BlockedConsumer() {
    sink_->gate_open = false;
    auto consumer = system_.Spawn<C>(sink_).value();
    consumer.Tell(Item{0});
    EXPECT_TRUE(WaitFor([&] { return sink_->blocked.load(); }));
    return consumer;
  }

  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::shared_ptr<Sink> sink_ = std::make_shared<Sink>();
};

TEST_F(BoundedMailboxTest, RejectRefusesPastCapacityAndTellsTheSender) {
  auto consumer = BlockedConsumer<Consumer<OverflowPolicy::kReject>>();
  const uint64_t dead_before = system_.dead_letters().count();
  int accepted = 0;
  for (int i = 1; i <= 10000; ++i) accepted += consumer.Tell(Item{i});
  EXPECT_EQ(accepted, static_cast<int>(kCapacity));
  EXPECT_EQ(system_.dead_letters().count() - dead_before, 10000u - kCapacity);
  // A request to the full mailbox fails at once, not at its timeout.
  const absl::Time start = absl::Now();
  auto probe = system_.Ask(consumer, Probe{}, absl::Seconds(30)).get();
  EXPECT_EQ(probe.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  sink_->gate_open = true;
  ASSERT_TRUE(WaitFor([&] { return sink_->processed.load() == kCapacity + 1; }));
  EXPECT_EQ(sink_->last.load(), kCapacity);  // the first 100 were kept, in order
  EXPECT_EQ(sink_->out_of_order.load(), 0);
}

TEST_F(BoundedMailboxTest, DropNewestDropsTheArrivalsPastCapacity) {
  auto consumer = BlockedConsumer<Consumer<OverflowPolicy::kDropNewest>>();
  const uint64_t dead_before = system_.dead_letters().count();
  int accepted = 0;
  for (int i = 1; i <= 10000; ++i) accepted += consumer.Tell(Item{i});
  EXPECT_EQ(accepted, static_cast<int>(kCapacity));
  EXPECT_EQ(system_.dead_letters().count() - dead_before, 10000u - kCapacity);
  sink_->gate_open = true;
  ASSERT_TRUE(WaitFor([&] { return sink_->processed.load() == kCapacity + 1; }));
  EXPECT_EQ(sink_->last.load(), kCapacity);
}

TEST_F(BoundedMailboxTest, DropOldestKeepsTheNewestItTookAndBoundsMemory) {
  auto consumer = BlockedConsumer<Consumer<OverflowPolicy::kDropOldest>>();
  const uint64_t dead_before = system_.dead_letters().count();
  int accepted = 0;
  for (int i = 1; i <= 10000; ++i) accepted += consumer.Tell(Item{i});
  // With the consumer stuck, arrivals are taken up to twice the capacity (the oldest of them
  // make room once it takes messages out again); past that the arrival is dropped.
  EXPECT_EQ(accepted, static_cast<int>(2 * kCapacity));
  sink_->gate_open = true;
  ASSERT_TRUE(WaitFor([&] {
    return sink_->processed.load() + static_cast<int64_t>(system_.dead_letters().count() -
                                                          dead_before) ==
           10001;
  }));
  EXPECT_EQ(sink_->processed.load(), kCapacity + 1);
  EXPECT_EQ(sink_->last.load(), 2 * kCapacity);  // the newest it took survived
  EXPECT_EQ(sink_->out_of_order.load(), 0);
}

#ifdef TROUPE_SANITIZED
constexpr int64_t kFlood = 200000;
#else
constexpr int64_t kFlood = 2000000;
#endif

// The producer sends as fast as it can; the consumer spends ~1 us a message (10x+ slower).
template <typename C>
void Flood(ActorSystem& system, std::shared_ptr<Sink> sink, const char* name) {
  sink->work = absl::Microseconds(1);
  auto consumer = system.Spawn<C>(sink).value();
  const uint64_t dead_before = system.dead_letters().count();
  const long rss_before = RssKiB();
  long rss_peak = rss_before;
  int64_t refused = 0;
  const absl::Time start = absl::Now();
  for (int64_t i = 1; i <= kFlood; ++i) {
    refused += !consumer.Tell(Item{i});
    if (i % 65536 == 0) rss_peak = std::max(rss_peak, RssKiB());
  }
  const absl::Duration send_time = absl::Now() - start;
  ASSERT_TRUE(WaitFor(
      [&] {
        return sink->processed.load() + static_cast<int64_t>(system.dead_letters().count() -
                                                             dead_before) ==
               kFlood;
      },
      absl::Seconds(120)));
  const int64_t dropped = static_cast<int64_t>(system.dead_letters().count() - dead_before);
  std::printf("%-12s sent %lld in %s: processed %lld, refused %lld, dropped %lld (dead letters); "
              "RSS +%ld KiB at peak\n",
              name, static_cast<long long>(kFlood), absl::FormatDuration(send_time).c_str(),
              static_cast<long long>(sink->processed.load()), static_cast<long long>(refused),
              static_cast<long long>(dropped - refused), rss_peak - rss_before);
  EXPECT_EQ(sink->processed.load() + dropped, kFlood);  // nothing lost unaccounted
  EXPECT_EQ(sink->out_of_order.load(), 0);
  // An unbounded mailbox would hold most of the flood (32+ bytes a message); bounded, the
  // queue stays at 100 messages.
  EXPECT_LT(rss_peak - rss_before, 16 * 1024) << "memory grew with the flood";
}

TEST_F(BoundedMailboxTest, UnderAFloodEachPolicyKeepsMemoryFlatAndCountsExact) {
  Flood<Consumer<OverflowPolicy::kReject>>(system_, std::make_shared<Sink>(), "reject");
  Flood<Consumer<OverflowPolicy::kDropNewest>>(system_, std::make_shared<Sink>(), "drop-newest");
  Flood<Consumer<OverflowPolicy::kDropOldest>>(system_, std::make_shared<Sink>(), "drop-oldest");
}

// A producer actor that sends `count` items, each waiting for room before the next.
struct Go {
  ActorRef<ConsumerProtocol> to;
  int64_t count;
  absl::Duration timeout;
};
struct ProducerSeen {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> failed{0};
  Mutex mu;
  absl::Status first_error;
};
class Producer : public Actor<Producer, Protocol<Go>> {
 public:
  explicit Producer(std::shared_ptr<ProducerSeen> seen) : seen_(std::move(seen)) {}
  void Handle(Go go) {
    go_ = go;
    Next(1);
  }

 private:
  void Next(int64_t i) {
    if (i > go_.count) return;
    ctx().TellWhenRoom(go_.to, Item{i}, go_.timeout, [this, i](absl::Status status) {
      if (status.ok()) {
        ++seen_->sent;
        Next(i + 1);
      } else {
        MutexLock lock(&seen_->mu);
        if (seen_->first_error.ok()) seen_->first_error = status;
        ++seen_->failed;
      }
    });
  }
  std::shared_ptr<ProducerSeen> seen_;
  Go go_;
};

TEST_F(BoundedMailboxTest, BackpressureDeliversEverythingInOrderWithoutDeadlock) {
  sink_->work = absl::Microseconds(2);
  auto consumer = system_.Spawn<Consumer<OverflowPolicy::kBackpressure>>(sink_).value();
  auto seen = std::make_shared<ProducerSeen>();
#ifdef TROUPE_SANITIZED
  constexpr int64_t kItems = 10000;
#else
  constexpr int64_t kItems = 100000;
#endif
  const uint64_t dead_before = system_.dead_letters().count();
  auto producer = system_.Spawn<Producer>(seen).value();
  producer.Tell(Go{consumer, kItems, absl::Seconds(30)});
  ASSERT_TRUE(WaitFor([&] { return seen->sent.load() == kItems; }, absl::Seconds(120)));
  ASSERT_TRUE(WaitFor([&] { return sink_->processed.load() == kItems; }));
  EXPECT_EQ(seen->failed.load(), 0);
  EXPECT_EQ(sink_->out_of_order.load(), 0);
  EXPECT_EQ(system_.dead_letters().count(), dead_before);
  // The foreign-thread form, with room available, queues at once.
  EXPECT_TRUE(system_.TellWhenRoom(consumer, Item{kItems + 1}, absl::Seconds(5)).get().ok());
}

TEST_F(BoundedMailboxTest, BackpressureWithRoomForOneNeverLosesAWakeUp) {
  // Capacity 1: the consumer empties the mailbox just as a sender starts waiting, over and over.
  auto consumer = system_.Spawn<Consumer<OverflowPolicy::kBackpressure, 1>>(sink_).value();
  auto seen = std::make_shared<ProducerSeen>();
  constexpr int64_t kItems = 20000;
  auto producer = system_.Spawn<Producer>(seen).value();
  const absl::Time start = absl::Now();
  producer.Tell(Go{consumer, kItems, absl::Seconds(60)});
  ASSERT_TRUE(WaitFor([&] { return sink_->processed.load() == kItems; }, absl::Seconds(120)));
  EXPECT_EQ(seen->failed.load(), 0);
  EXPECT_EQ(sink_->out_of_order.load(), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));  // no sender sat out a 60 s timeout
}

TEST_F(BoundedMailboxTest, AWaitingSenderTimesOutAndItsMessageIsNeverDelivered) {
  auto consumer = BlockedConsumer<Consumer<OverflowPolicy::kBackpressure>>();
  for (int i = 1; i <= static_cast<int>(kCapacity); ++i) {
    ASSERT_TRUE(consumer.Tell(Item{i}));
  }
  EXPECT_FALSE(consumer.Tell(Item{999}));  // full: a plain Tell is refused
  auto late = system_.TellWhenRoom(consumer, Item{1000}, absl::Milliseconds(100));
  EXPECT_EQ(late.get().code(), absl::StatusCode::kDeadlineExceeded);
  auto waiting = system_.TellWhenRoom(consumer, Item{1001}, absl::Seconds(30));
  sink_->gate_open = true;  // room appears: the waiting sender gets in
  EXPECT_TRUE(waiting.get().ok());
  ASSERT_TRUE(WaitFor([&] { return sink_->processed.load() == kCapacity + 2; }));
  EXPECT_EQ(sink_->last.load(), 1001);  // 1000 timed out and was never delivered
}

TEST_F(BoundedMailboxTest, SendersWaitingOnAStoppedActorHearNotFound) {
  auto consumer = BlockedConsumer<Consumer<OverflowPolicy::kBackpressure>>();
  for (int i = 1; i <= static_cast<int>(kCapacity); ++i) ASSERT_TRUE(consumer.Tell(Item{i}));
  auto waiting = system_.TellWhenRoom(consumer, Item{1000}, absl::Seconds(30));
  consumer.Stop();
  sink_->gate_open = true;
  EXPECT_EQ(waiting.get().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace troupe
