#include "framework/trace/trace_context.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace troupe {
namespace {

constexpr char kExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesTheW3cExampleAndWritesItBack) {
  std::optional<TraceContext> t = TraceContext::Parse(kExample);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->valid());
  EXPECT_TRUE(t->sampled());
  EXPECT_EQ(t->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->span_id, 0x00f067aa0ba902b7u);
  EXPECT_EQ(t->ToTraceparent(), kExample);
}

TEST(TraceContextTest, NotSampledFlag) {
  std::optional<TraceContext> t =
      TraceContext::Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->sampled());
}

TEST(TraceContextTest, IgnoresMalformedHeaders) {
  for (const char* bad : {
           "",
           "garbage",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",     // v00 too long
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",      // not hex
           "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // version not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",     // v01: no '-' after
       }) {
    EXPECT_FALSE(TraceContext::Parse(bad).has_value()) << bad;
  }
}

TEST(TraceContextTest, LaterVersionsAreReadByTheirPrefix) {
  std::optional<TraceContext> t =
      TraceContext::Parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-next");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceContextTest, RootsAndChildren) {
  TraceContext a = TraceContext::NewRoot();
  TraceContext b = TraceContext::NewRoot(/*sampled=*/false);
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(a.sampled());
  EXPECT_FALSE(b.sampled());
  EXPECT_NE(a.trace_id, b.trace_id);
  TraceContext child = a.Child();
  EXPECT_EQ(child.trace_id, a.trace_id);
  EXPECT_EQ(child.flags, a.flags);
  EXPECT_NE(child.span_id, a.span_id);
  std::optional<TraceContext> round_trip = TraceContext::Parse(child.ToTraceparent());
  ASSERT_TRUE(round_trip.has_value());
  EXPECT_EQ(*round_trip, child);
}

TEST(TraceContextTest, ScopedTraceNestsAndRestores) {
  EXPECT_EQ(CurrentTrace(), nullptr);
  TraceContext outer = TraceContext::NewRoot(), inner = TraceContext::NewRoot();
  {
    ScopedTrace a(&outer);
    EXPECT_EQ(CurrentTrace(), &outer);
    {
      ScopedTrace b(&inner);
      EXPECT_EQ(CurrentTrace(), &inner);
      TraceContext none;  // invalid: makes no trace current
      ScopedTrace c(&none);
      EXPECT_EQ(CurrentTrace(), nullptr);
    }
    EXPECT_EQ(CurrentTrace(), &outer);
  }
  EXPECT_EQ(CurrentTrace(), nullptr);
}

}  // namespace
}  // namespace troupe
