// The registry and Prometheus' text format: a golden text (label escaping, cumulative buckets
// with +Inf, sums and counts, collectors merged by name, sorted), shards summed across threads,
// and what is refused (invalid names, a name reused with another type).
#include "framework/metrics/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace troupe::metrics {
namespace {

TEST(MetricsTest, TheTextFormatMatchesTheGoldenText) {
  Registry r;
  r.AddCounter("app_requests_total", "Requests served.", {"method", "code"})
      .With({"Get", "OK"})
      .Add(3);
  r.AddCounter("app_requests_total", "ignored: registered already", {"method", "code"})
      .With({"Put", "NOT_FOUND"})
      .Add();
  r.AddGauge("app_temperature_celsius", "A \\ help\nline.", {"room"})
      .With({"a \"quoted\" \\ back\nslash"})
      .Set(-2.5);
  Histogram& h = r.AddHistogram("app_latency_seconds", "Latency.", {}, {0.001, 0.01, 0.1}).With({});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 0.5, 7.0}) h.Observe(v);
  r.AddCollector([](Collection& c) {
    c.Counter("app_requests_total", "from a collector", {{"method", "Watch"}, {"code", "OK"}}, 9);
    c.Gauge("app_up", "Up.", {}, 1);
  });
  EXPECT_EQ(r.TextFormat(),
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{le=\"0.001\"} 2\n"
            "app_latency_seconds_bucket{le=\"0.01\"} 3\n"
            "app_latency_seconds_bucket{le=\"0.1\"} 4\n"
            "app_latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "app_latency_seconds_sum 7.5535\n"
            "app_latency_seconds_count 6\n"
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{method=\"Get\",code=\"OK\"} 3\n"
            "app_requests_total{method=\"Put\",code=\"NOT_FOUND\"} 1\n"
            "app_requests_total{method=\"Watch\",code=\"OK\"} 9\n"
            "# HELP app_temperature_celsius A \\\\ help\\nline.\n"
            "# TYPE app_temperature_celsius gauge\n"
            "app_temperature_celsius{room=\"a \\\"quoted\\\" \\\\ back\\nslash\"} -2.5\n"
            "# HELP app_up Up.\n"
            "# TYPE app_up gauge\n"
            "app_up 1\n");
}

TEST(MetricsTest, ShardsAreSummedAcrossThreads) {
  Registry r;
  Counter& c = r.AddCounter("t_total", "t").With({});
  Histogram& h = r.AddHistogram("t_seconds", "t", {}, ExponentialBuckets(1, 10, 3)).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 40; ++t) {  // more threads than shards: shared shards stay exact
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Add();
        h.Observe(i % 2 == 0 ? 5 : 500);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 400000u);
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 400000u);
  EXPECT_THAT(s.counts, ::testing::ElementsAre(0u, 200000u, 0u));
  EXPECT_EQ(s.overflow, 200000u);
  EXPECT_DOUBLE_EQ(s.sum, 200000.0 * 505);
}

TEST(MetricsTest, InvalidNamesAndTypeConflictsAreDroppedNotRendered) {
  Registry r;
  r.AddCounter("x_total", "x").With({}).Add();
  r.AddCollector([](Collection& c) {
    c.Gauge("x_total", "the same name as a counter", {}, 1);
    c.Gauge("9starts_with_a_digit", "bad", {}, 1);
    c.Gauge("ok_gauge", "bad label", {{"bad-label", "v"}}, 1);
  });
  Collection c = r.Collect();
  EXPECT_THAT(c.conflicts(),
              ::testing::UnorderedElementsAre("x_total", "9starts_with_a_digit", "ok_gauge"));
  EXPECT_EQ(r.TextFormat(), "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n");
}

TEST(MetricsTest, ARemovedCollectorIsNotCalledAgain) {
  Registry r;
  int calls = 0;
  const uint64_t id = r.AddCollector([&](Collection&) { ++calls; });
  r.Collect();
  r.RemoveCollector(id);
  r.Collect();
  EXPECT_EQ(calls, 1);
}

TEST(MetricsTest, AWrongNumberOfLabelValuesIsPaddedNotACrash) {
  Registry r;
  r.AddCounter("y_total", "y", {"a", "b"}).With({"only-a"}).Add();
  EXPECT_EQ(r.TextFormat(), "# HELP y_total y\n# TYPE y_total counter\ny_total{a=\"only-a\",b=\"\"} 1\n");
}

TEST(MetricsTest, SnapshotsMergeOnlyWithTheSameBounds) {
  Histogram a({1, 2}), b({1, 2}), other({1, 5});
  a.Observe(0.5);
  b.Observe(1.5);
  b.Observe(9);
  other.Observe(3);
  HistogramSnapshot merged;
  ASSERT_TRUE(merged.Merge(a.Snapshot()));
  ASSERT_TRUE(merged.Merge(b.Snapshot()));
  EXPECT_EQ(merged.counts, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(merged.overflow, 1u);
  EXPECT_EQ(merged.count, 3u);
  EXPECT_FALSE(merged.Merge(other.Snapshot()));
  EXPECT_EQ(merged.count, 3u);  // nothing of it added
}

}  // namespace
}  // namespace troupe::metrics
