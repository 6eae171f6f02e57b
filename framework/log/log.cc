#include "framework/log/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "framework/trace/trace_context.h"

namespace troupe {
namespace {

absl::LogSeverity SeverityFromEnvironment() {
  const char* level = std::getenv("TROUPE_LOG_LEVEL");
  if (level == nullptr) return absl::LogSeverity::kInfo;
  const std::string l = absl::AsciiStrToLower(level);
  if (l == "warning" || l == "warn") return absl::LogSeverity::kWarning;
  if (l == "error") return absl::LogSeverity::kError;
  return absl::LogSeverity::kInfo;
}

std::atomic<int>& MinSeverity() {
  static std::atomic<int> min{static_cast<int>(SeverityFromEnvironment())};
  return min;
}

std::atomic<LogSink*> g_sink{nullptr};

char SeverityLetter(absl::LogSeverity s) {
  switch (s) {
    case absl::LogSeverity::kInfo:
      return 'I';
    case absl::LogSeverity::kWarning:
      return 'W';
    case absl::LogSeverity::kError:
      return 'E';
    case absl::LogSeverity::kFatal:
      return 'F';
  }
  return '?';
}

// True for the UTF-8 encoding of a C1 control (U+0080..U+009F: 0xC2 0x80..0x9F), which some
// terminals obey like an escape sequence.
bool IsC1At(absl::string_view v, size_t i) {
  return static_cast<unsigned char>(v[i]) == 0xC2 && i + 1 < v.size() &&
         static_cast<unsigned char>(v[i + 1]) >= 0x80 && static_cast<unsigned char>(v[i + 1]) <= 0x9F;
}

// A value is written bare unless it is empty or holds a space, a quote, '=' or a control
// character; then quoted, with \" \\ \n \t and \xNN escapes (logfmt; C0, DEL and C1 controls
// are escaped: values may come from peers).
void AppendValue(std::string& out, absl::string_view v) {
  bool bare = !v.empty();
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f || IsC1At(v, i)) bare = false;
  }
  if (bare) {
    out.append(v.data(), v.size());
    return;
  }
  out.push_back('"');
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (IsC1At(v, i)) {
      absl::StrAppend(&out, "\\xc2\\x", absl::Hex(static_cast<unsigned char>(v[i + 1])));
      ++i;
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

absl::string_view BaseName(const char* file) {
  absl::string_view f(file);
  const size_t slash = f.rfind('/');
  return slash == absl::string_view::npos ? f : f.substr(slash + 1);
}

void Emit(absl::LogSeverity severity, absl::string_view message,
          std::initializer_list<LogField> fields, const char* file, int line,
          uint64_t suppressed) {
  if (static_cast<int>(severity) < MinSeverity().load(std::memory_order_relaxed) &&
      severity != absl::LogSeverity::kFatal) {
    return;
  }
  LogRecord record{severity, absl::Now(), BaseName(file), line, message, {fields}};
  if (suppressed > 0) record.fields.emplace_back("suppressed", suppressed);
  if (const TraceContext* trace = CurrentTrace(); trace != nullptr) {
    record.fields.emplace_back("trace_id", trace->TraceIdHex());
  }
  if (LogSink* sink = g_sink.load(std::memory_order_acquire); sink != nullptr) {
    sink->Send(record);
  } else {
    std::string text = FormatLogRecord(record);
    text.push_back('\n');
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: the line is lost, the program goes on
      done += static_cast<size_t>(n);
    }
  }
  if (severity == absl::LogSeverity::kFatal) std::abort();
}

}  // namespace

std::string FormatLogRecord(const LogRecord& record) {
  std::string out = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", record.time, absl::UTCTimeZone());
  absl::StrAppend(&out, " ", std::string(1, SeverityLetter(record.severity)), " ", record.file,
                  ":", record.line, "] ", record.message);
  for (const LogField& f : record.fields) {
    absl::StrAppend(&out, " ", f.key, "=");
    AppendValue(out, f.value);
  }
  return out;
}

void Log(absl::LogSeverity severity, absl::string_view message,
         std::initializer_list<LogField> fields, const char* file, int line) {
  Emit(severity, message, fields, file, line, 0);
}

bool LogLimit::Allow(uint64_t* suppressed) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  int64_t window = window_.load(std::memory_order_relaxed);
  if (window != now && window_.compare_exchange_strong(window, now, std::memory_order_relaxed)) {
    in_window_.store(0, std::memory_order_relaxed);
  }
  if (in_window_.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

void LogLimited(LogLimit& limit, absl::LogSeverity severity, absl::string_view message,
                std::initializer_list<LogField> fields, const char* file, int line) {
  uint64_t suppressed = 0;
  if (limit.Allow(&suppressed)) Emit(severity, message, fields, file, line, suppressed);
}

void SetMinLogSeverity(absl::LogSeverity severity) {
  MinSeverity().store(static_cast<int>(severity), std::memory_order_relaxed);
}

LogSink* SetLogSink(LogSink* sink) { return g_sink.exchange(sink, std::memory_order_acq_rel); }

}  // namespace troupe
