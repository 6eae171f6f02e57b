#include "framework/scheduler/run_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "framework/scheduler/injection_queue.h"

namespace troupe {
namespace {

struct Item final : Schedulable {
  RunOutcome Run(int) override { return RunOutcome::kIdle; }
  int id = 0;
};

std::vector<Item> MakeItems(int n) {
  std::vector<Item> items(n);
  for (int i = 0; i < n; ++i) items[i].id = i;
  return items;
}

int Id(Schedulable* s) { return static_cast<Item*>(s)->id; }

TEST(RunQueueTest, FifoForTheOwner) {
  RunQueue q(8);
  auto items = MakeItems(5);
  for (auto& it : items) ASSERT_EQ(q.Push(&it), nullptr);
  EXPECT_EQ(q.Size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Id(q.Pop()), i);
  EXPECT_EQ(q.Pop(), nullptr);
}

TEST(RunQueueTest, OverflowHandsBackHalfPlusTheNewItemOldestFirst) {
  RunQueue q(4);
  auto items = MakeItems(5);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(q.Push(&items[i]), nullptr);
  Schedulable* chain = q.Push(&items[4]);
  ASSERT_NE(chain, nullptr);
  std::vector<int> ids;
  for (Schedulable* s = chain; s != nullptr; s = s->next_scheduled) ids.push_back(Id(s));
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(Id(q.Pop()), 2);
  EXPECT_EQ(Id(q.Pop()), 3);
  EXPECT_EQ(q.Pop(), nullptr);
}

TEST(RunQueueTest, StealTakesHalfRoundedUp) {
  RunQueue victim(16);
  RunQueue thief(16);
  auto items = MakeItems(5);
  for (auto& it : items) ASSERT_EQ(victim.Push(&it), nullptr);
  Schedulable* first = victim.StealInto(thief);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(Id(first), 2);      // the last stolen item is returned to run now
  EXPECT_EQ(thief.Size(), 2u);  // 3 stolen: one to run, two queued
  EXPECT_EQ(Id(thief.Pop()), 0);
  EXPECT_EQ(Id(thief.Pop()), 1);
  EXPECT_EQ(victim.Size(), 2u);
  EXPECT_EQ(Id(victim.Pop()), 3);
  RunQueue empty(4);
  EXPECT_EQ(empty.StealInto(thief), nullptr);
}

// The owner pushes and pops while thieves steal; with a tiny ring the overflow path runs too.
// Every item must be taken exactly once.
TEST(RunQueueTest, ConcurrentStealingTakesEveryItemExactlyOnce) {
#ifdef TROUPE_SANITIZED
  constexpr int kItems = 20000;
#else
  constexpr int kItems = 400000;
#endif
  constexpr int kThieves = 3;
  auto items = MakeItems(kItems);
  std::vector<std::atomic<int>> taken(kItems);
  for (auto& t : taken) t.store(0);
  RunQueue owner_queue(8);
  InjectionQueue overflow;
  std::atomic<bool> done{false};

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      RunQueue mine(8);
      while (!done.load(std::memory_order_acquire) || owner_queue.Size() > 0) {
        if (Schedulable* s = owner_queue.StealInto(mine)) {
          taken[Id(s)].fetch_add(1);
          while (Schedulable* more = mine.Pop()) taken[Id(more)].fetch_add(1);
        }
      }
    });
  }
  for (int i = 0; i < kItems; ++i) {
    if (Schedulable* chain = owner_queue.Push(&items[i])) overflow.PushChain(chain);
    if (i % 3 == 0) {
      if (Schedulable* s = owner_queue.Pop()) taken[Id(s)].fetch_add(1);
    }
  }
  while (Schedulable* s = owner_queue.Pop()) taken[Id(s)].fetch_add(1);
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  while (Schedulable* s = overflow.Pop()) taken[Id(s)].fetch_add(1);

  int missing = 0, duplicated = 0;
  for (auto& t : taken) {
    if (t.load() == 0) ++missing;
    if (t.load() > 1) ++duplicated;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
}

TEST(InjectionQueueTest, FifoAcrossSingleItemsAndChains) {
  InjectionQueue q;
  auto items = MakeItems(4);
  q.Push(&items[0]);
  items[1].next_scheduled = &items[2];
  items[2].next_scheduled = nullptr;
  q.PushChain(&items[1]);
  q.Push(&items[3]);
  EXPECT_EQ(q.Size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Id(q.Pop()), i);
  EXPECT_TRUE(q.Empty());
  EXPECT_EQ(q.Pop(), nullptr);
}

}  // namespace
}  // namespace troupe
