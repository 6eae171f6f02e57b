#include "framework/trace/json_lines_span_sink.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Span ExampleSpan() {
  Span span;
  span.context = *TraceContext::Parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  span.parent_span_id = 0x1122334455667788;
  span.kind = Span::Kind::kActor;
  span.name = "troupe::examples::Ping";
  span.start = absl::FromUnixMicros(1'700'000'000'000'000);
  span.duration = absl::Microseconds(12);
  span.attributes = {{"actor_type", "Ponger \"quoted\""}};
  return span;
}

TEST(JsonLinesSpanSinkTest, FormatsOneJsonObject) {
  EXPECT_EQ(JsonLinesSpanSink::Format(ExampleSpan(), "node-a"),
            "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\","
            "\"parent_span_id\":\"1122334455667788\",\"name\":\"troupe::examples::Ping\","
            "\"kind\":\"actor\",\"service\":\"node-a\",\"start_unix_seconds\":1700000000,"
            "\"duration_seconds\":1.2e-05,\"attributes\":{"
            "\"actor_type\":\"Ponger \\\"quoted\\\"\"}}");
}

TEST(JsonLinesSpanSinkTest, BytesOutsidePrintableAsciiBecomeQuestionMarks) {
  Span span = ExampleSpan();
  span.name = "/a\xff\xfe\n/b";
  span.attributes = {{"k\x01", "v\x80"}};
  std::string line = JsonLinesSpanSink::Format(span, "n");
  EXPECT_NE(line.find("\"name\":\"/a?\?\?/b\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"k?\":\"v?\""), std::string::npos) << line;
}

TEST(JsonLinesSpanSinkTest, WritesWholeLinesFromManyThreads) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/spans.jsonl";
  {
    auto sink = JsonLinesSpanSink::Open(path, "svc");
    ASSERT_TRUE(sink.ok()) << sink.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 500; ++i) (*sink)->Record(ExampleSpan());
      });
    }
    for (auto& t : threads) t.join();
    absl::SleepFor(absl::Milliseconds(250));  // the background flush writes some of it
  }  // the destructor writes the rest
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2000u);
  const std::string expected = JsonLinesSpanSink::Format(ExampleSpan(), "svc");
  for (const std::string& line : lines) ASSERT_EQ(line, expected);
}

TEST(JsonLinesSpanSinkTest, PastItsRateSpansAreDroppedAndCounted) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/rate.jsonl";
  uint64_t dropped;
  {
    auto sink = JsonLinesSpanSink::Open(path, "svc", /*max_spans_per_second=*/100);
    ASSERT_TRUE(sink.ok()) << sink.status();
    // Start at the beginning of a second, so the 1,000 fall in one window.
    absl::SleepFor(absl::Seconds(1) - (absl::Now() - absl::FromUnixSeconds(absl::ToUnixSeconds(
                                                         absl::Now()))));
    for (int i = 0; i < 1000; ++i) (*sink)->Record(ExampleSpan());
    dropped = (*sink)->dropped();
  }
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 100u);
  EXPECT_EQ(dropped, 900u);
}

TEST(JsonLinesSpanSinkTest, AnUnwritablePathIsAnError) {
  auto sink = JsonLinesSpanSink::Open("/nonexistent-dir/spans.jsonl", "svc");
  EXPECT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/nonexistent-dir/spans.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace troupe
