// GrpcMetrics: a gRPC server interceptor that counts every call the gateway handles in the
// system's metrics, by full method name and status code, with its latency:
//
//   troupe_grpc_server_handled_total{method="/pkg.Service/Method",code="OK"}
//   troupe_grpc_server_handling_seconds{method="..."}   (histogram, from the call's start to
//                                                          the status being sent)
//
// (The names follow go-grpc-prometheus' grpc_server_handled_total, under troupe's prefix.)
// GrpcGateway installs it on every server it starts.
//
// Thread safety: gRPC calls the factory and its interceptors from its own threads; the
// metrics are thread-safe.
#ifndef ACTORS_GRPC_GRPC_METRICS_H_
#define ACTORS_GRPC_GRPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include "framework/metrics/metrics.h"

namespace troupe {

class GrpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcMetricsFactory(metrics::Registry& registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  metrics::Family<metrics::Counter>& handled_;
  metrics::Family<metrics::Histogram>& seconds_;
};

}  // namespace troupe

#endif  // ACTORS_GRPC_GRPC_METRICS_H_
