#include "framework/log/log.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/trace/trace_context.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

class Capture : public LogSink {
 public:
  Capture() { previous_ = SetLogSink(this); }
  ~Capture() override { SetLogSink(previous_); }
  void Send(const LogRecord& record) override {
    MutexLock lock(&mu_);
    lines_.push_back(FormatLogRecord(record));
  }
  std::vector<std::string> lines() {
    MutexLock lock(&mu_);
    return lines_;
  }

 private:
  LogSink* previous_;
  Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// The line without its time stamp (the first 28 characters: "2026-12-01T15:20:07.123456Z ").
std::string Untimed(const std::string& line) { return line.substr(28); }

TEST(LogTest, OneLineWithSeverityLocationAndFields) {
  Capture capture;
  Log(absl::LogSeverity::kWarning, "accept failed",
      {{"listener", "0.0.0.0:7000"}, {"error", "Too many open files"}, {"count", 3},
       {"empty", ""}, {"odd", "a\"b\\c\nd=e\x01"}});
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0][4], '-');
  EXPECT_EQ(lines[0][26], 'Z');
  const std::string expected_prefix = "W log_test.cc:";
  EXPECT_EQ(Untimed(lines[0]).substr(0, expected_prefix.size()), expected_prefix);
  const std::string rest = Untimed(lines[0]).substr(Untimed(lines[0]).find(']'));
  EXPECT_EQ(rest,
            "] accept failed listener=0.0.0.0:7000 error=\"Too many open files\" count=3 "
            "empty=\"\" odd=\"a\\\"b\\\\c\\nd=e\\x01\"");
}

TEST(LogTest, C1ControlsAreEscapedOtherUtf8Kept) {
  Capture capture;
  Log(absl::LogSeverity::kInfo, "nick", {{"nick", "caf\xc3\xa9\xc2\x9b[2J"}});
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("nick=\"caf\xc3\xa9\\xc2\\x9b[2J\""), std::string::npos) << lines[0];
}

TEST(LogTest, ATracedEventCarriesTheTraceId) {
  Capture capture;
  const TraceContext trace = TraceContext::NewRoot();
  {
    ScopedTrace scope(&trace);
    Log(absl::LogSeverity::kInfo, "inside", {{"k", "v"}});
  }
  Log(absl::LogSeverity::kInfo, "outside");
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("] inside k=v trace_id=" + trace.TraceIdHex()), std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[1].find("trace_id"), std::string::npos) << lines[1];
}

TEST(LogTest, RateLimitedPerCallSiteAndSaysWhatItSuppressed) {
  Capture capture;
  static LogLimit limit(5);
  // Start at the beginning of a second, so the 20 calls fall in one window.
  absl::SleepFor(absl::Seconds(1) - (absl::Now() - absl::FromUnixSeconds(absl::ToUnixSeconds(
                                                       absl::Now()))));
  for (int i = 0; i < 20; ++i) LogLimited(limit, absl::LogSeverity::kWarning, "flood", {{"i", i}});
  EXPECT_EQ(capture.lines().size(), 5u);
  // Real time: LogLimit's window is a second of the wall clock; wait for the next one.
  absl::SleepFor(absl::Seconds(1));
  LogLimited(limit, absl::LogSeverity::kWarning, "flood", {{"i", 20}});
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines[5].find("i=20 suppressed=15"), std::string::npos) << lines[5];
}

TEST(LogTest, BelowTheMinimumSeverityIsDropped) {
  Capture capture;
  SetMinLogSeverity(absl::LogSeverity::kWarning);
  Log(absl::LogSeverity::kInfo, "dropped");
  Log(absl::LogSeverity::kError, "kept");
  SetMinLogSeverity(absl::LogSeverity::kInfo);
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("E log_test.cc"), std::string::npos) << lines[0];
}

TEST(LogDeathTest, FatalAborts) {
  EXPECT_DEATH(Log(absl::LogSeverity::kFatal, "the end", {{"why", "test"}}),
               "F log_test.cc:[0-9]+\\] the end why=test");
}

}  // namespace
}  // namespace troupe
