#include "framework/mailbox/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "framework/base/cpu_relax.h"

namespace troupe {
namespace {

struct Numbered {
  int producer;
  int seq;
};

Envelope* Make(int producer, int seq, Priority priority = Priority::kUser) {
  auto* e = new MessageEnvelope<Numbered>(0, Numbered{producer, seq});
  e->set_priority(priority);
  return e;
}

const Numbered& Payload(Envelope* e) { return static_cast<MessageEnvelope<Numbered>*>(e)->payload; }

TEST(MailboxTest, NewMailboxIsScheduledAndIdlesWhenEmpty) {
  Mailbox box;
  EXPECT_EQ(box.Pop(), nullptr);
  EXPECT_TRUE(box.TryMarkIdle());
  Envelope* e = Make(0, 0);
  EXPECT_EQ(box.Push(e), Mailbox::PushResult::kScheduleNeeded);
  Envelope* f = Make(0, 1);
  EXPECT_EQ(box.Push(f), Mailbox::PushResult::kQueued);
  EXPECT_EQ(box.Pop(), e);
  EXPECT_EQ(box.Pop(), f);
  DestroyEnvelope(e);
  DestroyEnvelope(f);
}

TEST(MailboxTest, TryMarkIdleFailsWhenAPushRaced) {
  Mailbox box;
  EXPECT_EQ(box.Pop(), nullptr);
  Envelope* e = Make(0, 0);
  EXPECT_EQ(box.Push(e), Mailbox::PushResult::kQueued);  // still scheduled: no new schedule
  EXPECT_FALSE(box.TryMarkIdle());
  EXPECT_EQ(box.Pop(), e);
  EXPECT_TRUE(box.TryMarkIdle());
  DestroyEnvelope(e);
}

TEST(MailboxTest, FifoPerProducerAcrossBatches) {
  Mailbox box;
  for (int i = 0; i < 10; ++i) ASSERT_NE(box.Push(Make(0, i)), Mailbox::PushResult::kClosed);
  Envelope* first = box.Pop();  // takes the first batch
  EXPECT_EQ(Payload(first).seq, 0);
  DestroyEnvelope(first);
  for (int i = 10; i < 20; ++i) ASSERT_NE(box.Push(Make(0, i)), Mailbox::PushResult::kClosed);
  for (int i = 1; i < 20; ++i) {
    Envelope* e = box.Pop();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(Payload(e).seq, i);
    DestroyEnvelope(e);
  }
  EXPECT_EQ(box.Pop(), nullptr);
}

TEST(MailboxTest, SystemEnvelopesOvertakeWaitingUserEnvelopes) {
  Mailbox box;
  box.Push(Make(0, 0));
  box.Push(Make(0, 1));
  box.Push(Make(1, 0, Priority::kSystem));
  box.Push(Make(1, 1, Priority::kSystem));
  const int expected[][2] = {{1, 0}, {1, 1}, {0, 0}, {0, 1}};
  for (const auto& [producer, seq] : expected) {
    Envelope* e = box.Pop();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(Payload(e).producer, producer);
    EXPECT_EQ(Payload(e).seq, seq);
    DestroyEnvelope(e);
  }
}

TEST(MailboxTest, CloseRefusesPushesAndReturnsQueuedEnvelopesInOrder) {
  Mailbox box;
  box.Push(Make(0, 0));
  Envelope* first = box.Pop();  // one in the cache, the rest on the stack
  DestroyEnvelope(first);
  box.Push(Make(0, 1));
  box.Push(Make(0, 2));
  box.Push(Make(1, 0, Priority::kSystem));
  Envelope* rest = box.Close();
  EXPECT_TRUE(box.closed());
  const int expected[][2] = {{1, 0}, {0, 1}, {0, 2}};
  for (const auto& [producer, seq] : expected) {
    ASSERT_NE(rest, nullptr);
    EXPECT_EQ(Payload(rest).producer, producer);
    EXPECT_EQ(Payload(rest).seq, seq);
    Envelope* next = rest->next;
    DestroyEnvelope(rest);
    rest = next;
  }
  EXPECT_EQ(rest, nullptr);
  Envelope* late = Make(2, 0);
  EXPECT_EQ(box.Push(late), Mailbox::PushResult::kClosed);
  DestroyEnvelope(late);  // the caller kept ownership
}

TEST(MailboxTest, DestructorFreesQueuedEnvelopes) {
  // Leaks would show under --config=asan.
  Mailbox box;
  for (int i = 0; i < 5; ++i) box.Push(Make(0, i));
}

// Several producers, one consumer that runs "turns" only when scheduled: every message is seen
// exactly once, in order per producer, and the mailbox is never scheduled twice at once.
TEST(MailboxTest, ConcurrentProducersExactlyOnceInOrderScheduledOnce) {
#ifdef TROUPE_SANITIZED
  constexpr int kPerProducer = 20000;
#else
  constexpr int kPerProducer = 200000;
#endif
  constexpr int kProducers = 4;
  Mailbox box;
  ASSERT_EQ(box.Pop(), nullptr);
  ASSERT_TRUE(box.TryMarkIdle());

  std::atomic<int> schedules_outstanding{0};
  std::atomic<int> double_schedules{0};
  std::atomic<int> total_schedules{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        if (box.Push(Make(p, i)) == Mailbox::PushResult::kScheduleNeeded) {
          total_schedules.fetch_add(1, std::memory_order_relaxed);
          if (schedules_outstanding.fetch_add(1, std::memory_order_acq_rel) != 0) {
            double_schedules.fetch_add(1);
          }
        }
      }
    });
  }

  std::vector<int> next_seq(kProducers, 0);
  int received = 0;
  int out_of_order = 0;
  while (received < kProducers * kPerProducer) {
    while (schedules_outstanding.load(std::memory_order_acquire) == 0) CpuRelax();
    // One turn: drain, then try to go idle; a failed idle means keep draining.
    for (;;) {
      Envelope* e = box.Pop();
      if (e == nullptr) {
        schedules_outstanding.fetch_sub(1, std::memory_order_acq_rel);
        if (box.TryMarkIdle()) break;
        schedules_outstanding.fetch_add(1, std::memory_order_acq_rel);
        continue;
      }
      const Numbered& n = Payload(e);
      if (n.seq != next_seq[n.producer]) ++out_of_order;
      next_seq[n.producer] = n.seq + 1;
      ++received;
      DestroyEnvelope(e);
    }
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(double_schedules.load(), 0);
  EXPECT_GE(total_schedules.load(), 1);
  EXPECT_EQ(box.Pop(), nullptr);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next_seq[p], kPerProducer);
}

}  // namespace
}  // namespace troupe
