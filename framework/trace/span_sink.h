// Span and SpanSink: where the spans of sampled traces go (see trace_context.h).
//
// Every handler that runs for a message of a sampled trace is one span (kind kActor, named by
// the message type, with the actor's type and id), and so is every gRPC call a gateway serves
// for a traced caller (kServer, named by the method). A span's parent is the span that sent
// its message, so a trace's spans form the tree of one request's path through actors and nodes.
// Set ActorSystemOptions::span_sink to collect them; JsonLinesSpanSink writes them to a file.
//
// Thread safety: Record() is called from worker threads after each traced message's handler
// and from gRPC threads, concurrently; an implementation must be thread-safe and must not block
// (buffer, and write elsewhere).
#ifndef FRAMEWORK_TRACE_SPAN_SINK_H_
#define FRAMEWORK_TRACE_SPAN_SINK_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "framework/trace/trace_context.h"

namespace troupe {

struct Span {
  enum class Kind { kActor, kServer };
  TraceContext context;         // the trace, and this span's id (context.span_id)
  uint64_t parent_span_id = 0;  // 0: none (a root)
  Kind kind = Kind::kActor;
  std::string name;
  absl::Time start;
  absl::Duration duration;
  std::vector<std::pair<std::string, std::string>> attributes;
};

class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void Record(Span span) = 0;
};

}  // namespace troupe

#endif  // FRAMEWORK_TRACE_SPAN_SINK_H_
