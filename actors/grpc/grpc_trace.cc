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

class CallTrace : public grpc::experimental::Interceptor {
 public:
  CallTrace(std::string method, SpanSink* sink) : method_(std::move(method)), sink_(sink) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA)) {
      TakeCallersTrace(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS) && mine_.valid() &&
        mine_.sampled() && sink_ != nullptr) {
      Span span;
      span.context = mine_;
      span.parent_span_id = parent_span_id_;
      span.kind = Span::Kind::kServer;
      span.name = method_;
      span.start = start_;
      span.duration = absl::Now() - start_;
      const auto code = static_cast<absl::StatusCode>(methods->GetSendStatus().error_code());
      span.attributes = {{"grpc_code", absl::StatusCodeToString(code)}};
      sink_->Record(std::move(span));
    }
    methods->Proceed();
  }

 private:
  // The caller's traceparent (the first, if several) becomes our span's parent; what the
  // handler reads is our span (header_ lives as long as the call: the map refers to it).
  void TakeCallersTrace(std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
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

  const std::string method_;
  SpanSink* const sink_;
  TraceContext mine_;
  uint64_t parent_span_id_ = 0;
  absl::Time start_;
  std::string header_;
};

}  // namespace

grpc::experimental::Interceptor* GrpcTraceFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallTrace(info->method() != nullptr ? info->method() : "", sink_);
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
