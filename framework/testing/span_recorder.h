// SpanRecorder: an in-memory SpanSink for tests (the file sink, JsonLinesSpanSink, has its own
// test): keeps every span recorded, in order. SeenTraces: what handlers saw as the current trace.
//
// Thread safety: all methods from any thread.
#ifndef FRAMEWORK_TESTING_SPAN_RECORDER_H_
#define FRAMEWORK_TESTING_SPAN_RECORDER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framework/base/mutex.h"
#include "framework/trace/span_sink.h"

namespace troupe::testing {

class SpanRecorder : public SpanSink {
 public:
  void Record(Span span) override {
    MutexLock lock(&mu_);
    spans_.push_back(std::move(span));
  }
  std::vector<Span> Get() {
    MutexLock lock(&mu_);
    return spans_;
  }

 private:
  Mutex mu_;
  std::vector<Span> spans_ ABSL_GUARDED_BY(mu_);
};

// Record() from a handler keeps the trace current there (or that there was none).
class SeenTraces {
 public:
  void Record() {
    const TraceContext* t = CurrentTrace();
    MutexLock lock(&mu_);
    seen_.push_back(t != nullptr ? std::optional<TraceContext>(*t) : std::nullopt);
  }
  std::vector<std::optional<TraceContext>> Get() {
    MutexLock lock(&mu_);
    return seen_;
  }

 private:
  Mutex mu_;
  std::vector<std::optional<TraceContext>> seen_ ABSL_GUARDED_BY(mu_);
};

// The value of a span's attribute, or "" if it has none of that name.
inline std::string AttributeOf(const Span& span, const std::string& key) {
  for (const auto& [k, v] : span.attributes) {
    if (k == key) return v;
  }
  return "";
}

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_SPAN_RECORDER_H_
