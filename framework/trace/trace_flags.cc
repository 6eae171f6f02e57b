#include "framework/trace/trace_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "framework/trace/json_lines_span_sink.h"

ABSL_FLAG(std::string, trace_file, "",
          "append the spans of sampled traces (W3C traceparent) to this file, as JSON lines");

namespace troupe {

absl::StatusOr<std::shared_ptr<SpanSink>> SpanSinkFromFlags(std::string service) {
  const std::string path = absl::GetFlag(FLAGS_trace_file);
  if (path.empty()) return std::shared_ptr<SpanSink>();
  absl::StatusOr<std::shared_ptr<JsonLinesSpanSink>> sink =
      JsonLinesSpanSink::Open(path, std::move(service));
  if (!sink.ok()) return sink.status();
  return std::shared_ptr<SpanSink>(*std::move(sink));
}

}  // namespace troupe
