#include "framework/timer/timer_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace troupe {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(TimerQueueTest, FiresInDeadlineOrderThenInsertionOrder) {
  TimerQueue q;
  std::string order;
  q.Add(kT0 + absl::Milliseconds(30), absl::ZeroDuration(), [&] { order += "c"; });
  q.Add(kT0 + absl::Milliseconds(10), absl::ZeroDuration(), [&] { order += "a"; });
  q.Add(kT0 + absl::Milliseconds(20), absl::ZeroDuration(), [&] { order += "b1"; });
  q.Add(kT0 + absl::Milliseconds(20), absl::ZeroDuration(), [&] { order += "b2"; });
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Milliseconds(10));
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(5)), 0);
  EXPECT_EQ(order, "");
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(20)), 3);
  EXPECT_EQ(order, "ab1b2");
  EXPECT_EQ(q.FireDue(kT0 + absl::Seconds(1)), 1);
  EXPECT_EQ(order, "ab1b2c");
  EXPECT_EQ(q.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerQueueTest, CancelledTimersNeverFire) {
  TimerQueue q;
  int fired = 0;
  TimerHandle h = q.Add(kT0, absl::ZeroDuration(), [&] { ++fired; });
  EXPECT_TRUE(h.active());
  EXPECT_TRUE(h.Cancel());
  EXPECT_FALSE(h.Cancel());
  EXPECT_FALSE(h.active());
  EXPECT_EQ(q.FireDue(kT0 + absl::Seconds(1)), 0);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(q.Size(), 0u);
}

TEST(TimerQueueTest, CancelAfterFiringReportsFalse) {
  TimerQueue q;
  TimerHandle h = q.Add(kT0, absl::ZeroDuration(), [] {});
  q.FireDue(kT0);
  EXPECT_FALSE(h.active());
  EXPECT_FALSE(h.Cancel());
}

TEST(TimerQueueTest, PeriodicTimersRepeatWithoutDriftUntilCancelled) {
  TimerQueue q;
  int fired = 0;
  TimerHandle h = q.Add(kT0 + absl::Milliseconds(10), absl::Milliseconds(10), [&] { ++fired; });
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(10)), 1);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Milliseconds(20));
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(21)), 1);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Milliseconds(30));
  // Falling far behind fires once, then resumes on the period grid.
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(75)), 1);
  EXPECT_EQ(q.NextDeadline(), kT0 + absl::Milliseconds(80));
  EXPECT_EQ(fired, 3);
  EXPECT_TRUE(h.Cancel());
  EXPECT_EQ(q.FireDue(kT0 + absl::Seconds(10)), 0);
  EXPECT_EQ(fired, 3);
}

TEST(TimerQueueTest, CallbacksMayAddTimers) {
  TimerQueue q;
  int fired = 0;
  q.Add(kT0, absl::ZeroDuration(), [&] {
    ++fired;
    q.Add(kT0 + absl::Milliseconds(1), absl::ZeroDuration(), [&] { ++fired; });
  });
  EXPECT_EQ(q.FireDue(kT0), 1);
  EXPECT_EQ(q.FireDue(kT0 + absl::Milliseconds(1)), 1);
  EXPECT_EQ(fired, 2);
}

TEST(TimerQueueTest, ReportsWhenANewTimerBecomesTheEarliest) {
  TimerQueue q;
  bool changed = false;
  q.Add(
      kT0 + absl::Seconds(5), absl::ZeroDuration(), [] {}, &changed);
  EXPECT_TRUE(changed);
  q.Add(
      kT0 + absl::Seconds(9), absl::ZeroDuration(), [] {}, &changed);
  EXPECT_FALSE(changed);
  q.Add(
      kT0 + absl::Seconds(1), absl::ZeroDuration(), [] {}, &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(q.Clear(), 3u);
  EXPECT_EQ(q.NextDeadline(), absl::InfiniteFuture());
}

TEST(TimerQueueTest, CancelledTimersAreCompactedAwayLongBeforeTheirDeadline) {
  TimerQueue q;
  for (int i = 0; i < 100000; ++i) {
    q.Add(kT0 + absl::Hours(1), absl::ZeroDuration(), [] {}).Cancel();
  }
  // Without compaction all 100000 would wait an hour in the heap.
  EXPECT_LT(q.Size(), 2100u);
  TimerHandle live = q.Add(kT0 + absl::Hours(1), absl::ZeroDuration(), [] {});
  EXPECT_TRUE(live.active());
}

TEST(TimerQueueTest, FiredOneShotReleasesWhatItCaptured) {
  TimerQueue q;
  auto resource = std::make_shared<int>(7);
  std::weak_ptr<int> weak = resource;
  TimerHandle h = q.Add(kT0, absl::ZeroDuration(), [r = std::move(resource)] { (void)r; });
  q.FireDue(kT0);
  EXPECT_TRUE(weak.expired());  // although the handle still refers to the entry
}

TEST(TimerQueueTest, ConcurrentAddCancelFire) {
  TimerQueue q;
  std::atomic<int> fired{0};
  std::atomic<bool> done{false};
  std::thread firer([&] {
    while (!done.load()) q.FireDue(kT0 + absl::Seconds(100));
    q.FireDue(kT0 + absl::Seconds(100));
  });
  std::vector<std::thread> adders;
  std::atomic<int> cancelled{0};
  for (int t = 0; t < 3; ++t) {
    adders.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        TimerHandle h =
            q.Add(kT0 + absl::Milliseconds(i % 7), absl::ZeroDuration(), [&] { fired++; });
        if ((i + t) % 2 == 0 && h.Cancel()) cancelled++;
      }
    });
  }
  for (auto& a : adders) a.join();
  done = true;
  firer.join();
  EXPECT_EQ(fired.load() + cancelled.load(), 3 * 2000);
}

}  // namespace
}  // namespace troupe
