// Delivery guarantees under load: 8 producer actors x 1,000,000 numbered messages to one
// receiver on the work-stealing scheduler: every message arrives exactly once, in each sender's
// order.
#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

#ifdef TROUPE_SANITIZED
constexpr int64_t kPerProducer = 20000;
#else
constexpr int64_t kPerProducer = 1000000;
#endif
constexpr int kProducers = 8;

struct Numbered {
  int producer;
  int64_t seq;
};

struct Ledger {
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> reordered{0};  // a sequence number below the next expected one
  std::atomic<int64_t> gaps{0};       // one above it (a message lost, or overtaken)
};

class Receiver : public Actor<Receiver, Protocol<Numbered>> {
 public:
  explicit Receiver(std::shared_ptr<Ledger> ledger)
      : ledger_(std::move(ledger)), next_(kProducers, 0) {}
  void Handle(Numbered m) {
    int64_t& next = next_[m.producer];
    if (m.seq < next) {
      ledger_->reordered.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (m.seq > next) ledger_->gaps.fetch_add(1, std::memory_order_relaxed);
      next = m.seq + 1;
    }
    ledger_->received.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<Ledger> ledger_;
  std::vector<int64_t> next_;
};

// Sends its numbers in chunks, re-telling itself between chunks so that other actors (and
// thieves) get the workers in between.
struct Continue {};
class Producer : public Actor<Producer, Protocol<Continue>> {
 public:
  Producer(int id, ActorRef<Protocol<Numbered>> to) : id_(id), to_(std::move(to)) {}
  void Handle(Continue) {
    const int64_t end = std::min(sent_ + 4096, kPerProducer);
    for (; sent_ < end; ++sent_) to_.Tell(Numbered{id_, sent_});
    if (sent_ < kPerProducer) self().Tell(Continue{});
  }

 private:
  int id_;
  ActorRef<Protocol<Numbered>> to_;
  int64_t sent_ = 0;
};

TEST(DeliveryTest, EightProducersOneReceiverNothingReorderedLostOrDuplicated) {
  ActorSystem system({.threads = 2});
  auto ledger = std::make_shared<Ledger>();
  auto receiver = system.Spawn<Receiver>(ledger).value();
  const uint64_t dead_before = system.dead_letters().count();
  const absl::Time start = absl::Now();
  for (int p = 0; p < kProducers; ++p) system.Spawn<Producer>(p, receiver).value().Tell(Continue{});
  constexpr int64_t kTotal = kPerProducer * kProducers;
  ASSERT_TRUE(troupe::testing::WaitFor([&] { return ledger->received.load() >= kTotal; },
                                       absl::Seconds(300)));
  const absl::Duration took = absl::Now() - start;
  absl::SleepFor(absl::Milliseconds(50));  // anything extra (a duplicate) would show up now
  std::printf("%d producers x %lld messages: received %lld, reordered %lld, gaps %lld, "
              "dead letters %llu, %.1f M msgs/s\n",
              kProducers, static_cast<long long>(kPerProducer),
              static_cast<long long>(ledger->received.load()),
              static_cast<long long>(ledger->reordered.load()),
              static_cast<long long>(ledger->gaps.load()),
              static_cast<unsigned long long>(system.dead_letters().count() - dead_before),
              kTotal / absl::ToDoubleSeconds(took) / 1e6);
  EXPECT_EQ(ledger->received.load(), kTotal);  // none lost, none duplicated
  EXPECT_EQ(ledger->reordered.load(), 0);
  EXPECT_EQ(ledger->gaps.load(), 0);
  EXPECT_EQ(system.dead_letters().count(), dead_before);
}

}  // namespace
}  // namespace troupe
