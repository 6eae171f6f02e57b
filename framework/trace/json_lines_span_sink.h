// JsonLinesSpanSink: a SpanSink that appends each span to a file as one line of JSON (the
// proto3 JSON of troupe.trace.Span, proto/trace.proto), for a user to follow one request's path:
//
//   auto sink = troupe::JsonLinesSpanSink::Open("/tmp/spans.jsonl", "node-a");
//   troupe::ActorSystem system({.span_sink = *sink});
//   ...
//   grep <trace-id> /tmp/spans.jsonl
//
// Bytes outside printable ASCII in names and attributes (which may come from peers: a gRPC
// method path) are written as '?'. Several processes may append to one file: each write is whole lines (O_APPEND).
// Record() only formats the line into a buffer; a background thread writes the buffer every
// 100 ms (and Flush() or the destructor at once), so a handler never waits for the disk. Past
// 4 MiB waiting to be written, or past `max_spans_per_second` (callers choose what is sampled:
// a flood of sampled calls must not fill the disk), spans are dropped and counted (dropped()).
//
// Thread safety: all methods from any thread.
#ifndef FRAMEWORK_TRACE_JSON_LINES_SPAN_SINK_H_
#define FRAMEWORK_TRACE_JSON_LINES_SPAN_SINK_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
#include "framework/log/log.h"
#include "framework/trace/span_sink.h"

namespace troupe {

class JsonLinesSpanSink final : public SpanSink {
 public:
  // Opens (creating, appending to) `path`; `service` is written in every span.
  static absl::StatusOr<std::shared_ptr<JsonLinesSpanSink>> Open(
      const std::string& path, std::string service, int max_spans_per_second = 10'000);
  ~JsonLinesSpanSink() override;

  void Record(Span span) override;
  // Writes what is buffered now. False if the file could not be written (then it is counted
  // as dropped).
  bool Flush();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // The JSON line (without its newline) of `span` as written by a sink for `service`.
  static std::string Format(const Span& span, const std::string& service);

 private:
  JsonLinesSpanSink(int fd, std::string service, int max_spans_per_second);
  void FlushLoop();

  const int fd_;
  const std::string service_;
  std::atomic<uint64_t> dropped_{0};
  LogLimit rate_;  // max_spans_per_second
  Mutex mu_;  // guards the buffer
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  uint64_t buffered_spans_ ABSL_GUARDED_BY(mu_) = 0;
  Mutex write_mu_;  // one writer at a time, so lines from this process stay in order
  Notification stop_;
  std::thread flusher_;
};

}  // namespace troupe

#endif  // FRAMEWORK_TRACE_JSON_LINES_SPAN_SINK_H_
