// Log: troupe's logging facade - one line per event, with a severity, the source location,
// key/value fields, and the trace id when the event happens while a traced message is handled.
//
//   troupe::Log(absl::LogSeverity::kWarning, "accept failed",
//               {{"listener", address}, {"error", strerror(errno)}});
//   // 2026-12-01T15:20:07.123456Z W tcp_listener.cc:64] accept failed listener=0.0.0.0:7000
//   //     error="Too many open files"
//
// Where a peer can trigger the event (a bad frame, a refused connection), rate-limit it per
// call site so a hostile or broken peer cannot flood the log:
//
//   static troupe::LogLimit limit(5);   // at most 5 lines a second from here
//   troupe::LogLimited(limit, absl::LogSeverity::kWarning, "bad stream", {{"peer", p}});
//   // the next line that passes says how many were suppressed meanwhile: suppressed=123
//
// Why a thin layer over absl::LogSeverity rather than a packaged library: Debian 12's Abseil
// (20220623) predates absl/log; glog (libgoogle-glog-dev) has no key/value fields, aborts on
// LOG(FATAL) from any thread and installs its own flags and failure handlers into every program
// that links troupe; spdlog brings {fmt} formatting and its own thread pool. What troupe needs
// is small - a line format, per-site rate limits, the current trace - and LogSink lets a
// program send the records anywhere (its own logger, a test's capture).
//
// Lines go to stderr, each whole in one write(2) (retried only if the kernel takes part of it),
// so lines from threads do not interleave.
// TROUPE_LOG_LEVEL (info, warning, error; default info) or SetMinLogSeverity() drops lines below
// a severity. kFatal logs and aborts.
//
// Thread safety: all functions from any thread; a LogSink must be thread-safe.
#ifndef FRAMEWORK_LOG_LOG_H_
#define FRAMEWORK_LOG_LOG_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/log_severity.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace troupe {

struct LogField {
  LogField(absl::string_view k, const absl::AlphaNum& v) : key(k), value(v.Piece()) {}
  std::string key;
  std::string value;
};

struct LogRecord {
  absl::LogSeverity severity;
  absl::Time time;
  absl::string_view file;  // the source file's base name
  int line;
  absl::string_view message;
  std::vector<LogField> fields;  // the trace_id field last, when a trace is current
};

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Send(const LogRecord& record) = 0;
};

void Log(absl::LogSeverity severity, absl::string_view message,
         std::initializer_list<LogField> fields = {}, const char* file = __builtin_FILE(),
         int line = __builtin_LINE());

// At most `per_second` lines a second from one call site (a static LogLimit there).
class LogLimit {
 public:
  explicit LogLimit(int per_second) : per_second_(per_second) {}
  // True if a line may go now; then *suppressed is how many were refused since the last one.
  bool Allow(uint64_t* suppressed);

 private:
  const int per_second_;
  std::atomic<int64_t> window_{0};  // the second (since the epoch) being counted
  std::atomic<int> in_window_{0};
  std::atomic<uint64_t> suppressed_{0};
};

void LogLimited(LogLimit& limit, absl::LogSeverity severity, absl::string_view message,
                std::initializer_list<LogField> fields = {}, const char* file = __builtin_FILE(),
                int line = __builtin_LINE());

// Records below `severity` are dropped (the default: kInfo, or TROUPE_LOG_LEVEL).
void SetMinLogSeverity(absl::LogSeverity severity);
// Sends records to `sink` instead of stderr (null: stderr again). The sink must outlive its
// use; returns the previous one.
LogSink* SetLogSink(LogSink* sink);

// The line Log() writes for `record` (without its newline).
std::string FormatLogRecord(const LogRecord& record);

}  // namespace troupe

#endif  // FRAMEWORK_LOG_LOG_H_
