#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "framework/base/clock.h"
#include "framework/base/status_macros.h"
#include "framework/base/status_matchers.h"
#include "framework/base/type_name.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;

struct SomeMessage {};

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  TROUPE_ASSIGN_OR_RETURN(int half, Half(x));
  TROUPE_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  TROUPE_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_THAT(Quarter(8), IsOkAndHolds(2));
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckEven(4), IsOk());
  EXPECT_THAT(CheckEven(3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TypeNameTest, NamesTypesReadably) {
  EXPECT_EQ(TypeName<int>(), "int");
  EXPECT_EQ(TypeName<SomeMessage>(), "{anonymous}::SomeMessage");
  EXPECT_EQ(TypeName<absl::Status>(), "absl::debian3::Status");
}

TEST(MonotonicClockTest, NeverGoesBackwards) {
  const Clock& clock = MonotonicClock::Get();
  absl::Time last = clock.Now();
  for (int i = 0; i < 1000; ++i) {
    absl::Time now = clock.Now();
    EXPECT_GE(now, last);
    last = now;
  }
}

TEST(ManualClockTest, MovesOnlyForwardAndOnlyWhenTold) {
  ManualClock clock(absl::FromUnixSeconds(100));
  const Clock& read = clock;
  EXPECT_EQ(read.Now(), absl::FromUnixSeconds(100));
  EXPECT_EQ(read.Now(), absl::FromUnixSeconds(100));  // no time passes by itself
  EXPECT_EQ(clock.Advance(absl::Milliseconds(1500)), absl::FromUnixMillis(101'500));
  EXPECT_EQ(clock.Advance(-absl::Seconds(5)), absl::FromUnixMillis(101'500));
  EXPECT_EQ(clock.Set(absl::FromUnixSeconds(50)), absl::FromUnixMillis(101'500));  // not back
  EXPECT_EQ(clock.Set(absl::FromUnixSeconds(200)), absl::FromUnixSeconds(200));
  EXPECT_EQ(read.Now(), absl::FromUnixSeconds(200));
}

TEST(ManualClockTest, ConcurrentAdvancesAllCount) {
  ManualClock clock(absl::FromUnixSeconds(0));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) clock.Advance(absl::Nanoseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.Now(), absl::FromUnixNanos(4000));
}

}  // namespace
}  // namespace troupe
