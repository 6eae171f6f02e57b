#include "actors/grpc/grpc_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace troupe {
namespace {

class CallMetrics : public grpc::experimental::Interceptor {
 public:
  CallMetrics(std::string method, metrics::Family<metrics::Counter>& handled,
              metrics::Family<metrics::Histogram>& seconds)
      : method_(std::move(method)), handled_(handled), seconds_(seconds), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      const auto code = static_cast<absl::StatusCode>(methods->GetSendStatus().error_code());
      handled_.With({method_, absl::StatusCodeToString(code)}).Add();
      seconds_.With({method_}).Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  metrics::Family<metrics::Counter>& handled_;
  metrics::Family<metrics::Histogram>& seconds_;
  const absl::Time start_;
};

}  // namespace

GrpcMetricsFactory::GrpcMetricsFactory(metrics::Registry& registry)
    : handled_(registry.AddCounter("troupe_grpc_server_handled_total",
                                   "gRPC calls the gateway completed, by method and status code.",
                                   {"method", "code"})),
      seconds_(registry.AddHistogram(
          "troupe_grpc_server_handling_seconds",
          "gRPC calls' time from their start to their status, by method.", {"method"},
          metrics::ExponentialBuckets(0.0001, 4, 10))) {}

grpc::experimental::Interceptor* GrpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallMetrics(info->method() != nullptr ? info->method() : "", handled_, seconds_);
}

}  // namespace troupe
