#include "actors/grpc/grpc_trace.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace troupe {
namespace {

constexpr char kTraceparent[] = "traceparent";

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

void ServerCallTrace::TakeCallersTrace(
    std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  auto [begin, end] = metadata.equal_range(kTraceparent);
  if (begin == end) return;
  std::optional<TraceContext> parent = TraceContext::Parse(View(begin->second));
  metadata.erase(begin, end);
  if (!parent.has_value()) return;  // malformed: ignored, the call is untraced
  start_ = absl::Now();
  parent_span_id_ = parent->span_id;
  mine_ = parent->Child();
  header_ = mine_.ToTraceparent();
  metadata.emplace(grpc::string_ref(kTraceparent), grpc::string_ref(header_));
}

void ServerCallTrace::End(SpanSink* sink, const char* method, int code) {
  if (sink == nullptr || !mine_.valid() || !mine_.sampled()) return;
  Span span;
  span.context = mine_;
  span.parent_span_id = parent_span_id_;
  span.kind = Span::Kind::kServer;
  span.name = method != nullptr ? method : "";
  span.start = start_;
  span.duration = absl::Now() - start_;
  span.attributes = {{"grpc_code", absl::StatusCodeToString(static_cast<absl::StatusCode>(code))}};
  sink->Record(std::move(span));
}

std::optional<TraceContext> ServedCallTrace(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTraceparent);
  if (it == metadata.end()) return std::nullopt;
  return TraceContext::Parse(View(it->second));
}

void AddTraceContext(grpc::ClientContext* context) {
  const TraceContext* trace = CurrentTrace();
  if (trace != nullptr) context->AddMetadata(kTraceparent, trace->ToTraceparent());
}

}  // namespace troupe
