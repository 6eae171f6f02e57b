#include "actors/grpc/call_interceptor.h"

#include "absl/time/clock.h"
#include "actors/grpc/grpc_trace.h"

namespace troupe {
namespace {

class CallInterceptor : public grpc::experimental::Interceptor {
 public:
  // `method` lives as long as the call (gRPC's ServerRpcInfo holds it).
  CallInterceptor(const char* method, GrpcServerMetrics* metrics, SpanSink* sink)
      : method_(method != nullptr ? method : ""),
        metrics_(metrics),
        sink_(sink),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA)) {
      trace_.TakeCallersTrace(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      const grpc::StatusCode code = methods->GetSendStatus().error_code();
      // A caller chooses the method path: one nobody serves is counted as "unknown", so that
      // made-up paths cannot grow the metrics without bound.
      const char* method = code == grpc::StatusCode::UNIMPLEMENTED ? "unknown" : method_;
      metrics_->Record(method, static_cast<int>(code), absl::Now() - start_);
      trace_.End(sink_, method, static_cast<int>(code));
    }
    methods->Proceed();
  }

 private:
  const char* const method_;
  GrpcServerMetrics* const metrics_;
  SpanSink* const sink_;
  const absl::Time start_;
  ServerCallTrace trace_;
};

}  // namespace

grpc::experimental::Interceptor* GatewayInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallInterceptor(info->method(), metrics_, sink_);
}

}  // namespace troupe
