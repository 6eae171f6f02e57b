// The tracing flag every troupe sample server shares (Abseil flags):
//
//   --trace_file=PATH   append the spans of sampled traces to PATH, one JSON object per line
//                       (proto/trace.proto; several processes may share one file)
//
// Linking this library defines the flag; a binary calls SpanSinkFromFlags after
// absl::ParseCommandLine and puts the result in ActorSystemOptions::span_sink.
//
// Thread safety: from the main thread.
#ifndef FRAMEWORK_TRACE_TRACE_FLAGS_H_
#define FRAMEWORK_TRACE_TRACE_FLAGS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "framework/trace/span_sink.h"

namespace troupe {

// Null (and OK) without --trace_file; `service` names the spans' writer (e.g. the node).
// INVALID_ARGUMENT if the file cannot be opened.
absl::StatusOr<std::shared_ptr<SpanSink>> SpanSinkFromFlags(std::string service);

}  // namespace troupe

#endif  // FRAMEWORK_TRACE_TRACE_FLAGS_H_
