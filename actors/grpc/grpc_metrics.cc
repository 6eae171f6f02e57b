#include "actors/grpc/grpc_metrics.h"

#include "absl/status/status.h"

namespace troupe {

GrpcServerMetrics::GrpcServerMetrics(metrics::Registry& registry)
    : handled_(registry.AddCounter("troupe_grpc_server_handled_total",
                                   "gRPC calls the gateway completed, by method and status code.",
                                   {"method", "code"})),
      seconds_(registry.AddHistogram(
          "troupe_grpc_server_handling_seconds",
          "gRPC calls' time from their start to their status, by method.", {"method"},
          metrics::ExponentialBuckets(0.0001, 4, 10))) {}

void GrpcServerMetrics::Record(absl::string_view method, int code, absl::Duration took) {
  if (code < 0 || code >= kCodes) code = static_cast<int>(absl::StatusCode::kUnknown);
  metrics::Counter* handled;
  metrics::Histogram* seconds;
  {
    MutexLock lock(&mu_);
    std::unique_ptr<Method>& m = methods_[method];
    if (m == nullptr) {
      m = std::make_unique<Method>();
      m->seconds = &seconds_.With({std::string(method)});
    }
    if (m->handled[code] == nullptr) {
      m->handled[code] = &handled_.With(
          {std::string(method),
           absl::StatusCodeToString(static_cast<absl::StatusCode>(code))});
    }
    handled = m->handled[code];
    seconds = m->seconds;
  }
  handled->Add();
  seconds->Observe(absl::ToDoubleSeconds(took));
}

}  // namespace troupe
