// The server interceptor a GrpcGateway serving on gRPC's threads installs (on the worker
// queues the gateway's own call object does the same work, without gRPC's per-batch
// interception machinery: 1.1 us a streamed message, 1.6 us a unary call): one per call, it takes the caller's trace
// context when the call's metadata arrives (grpc_trace.h) and, when its status is sent, counts
// the call by method and code with its latency (grpc_metrics.h) and records the gateway's span
// of a sampled trace. One interceptor for both, because gRPC runs every batch of every call
// through each interceptor installed. A call that ends UNIMPLEMENTED (a method nobody serves:
// its path is the caller's choice) is counted under method="unknown".
//
// Thread safety: gRPC calls the factory and the interceptors from its threads (one call's hooks
// one at a time). The factory must outlive the server; `metrics` and `sink` the factory.
#ifndef ACTORS_GRPC_CALL_INTERCEPTOR_H_
#define ACTORS_GRPC_CALL_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include "actors/grpc/grpc_metrics.h"
#include "framework/trace/span_sink.h"

namespace troupe {

class GatewayInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `sink` may be null (no spans recorded; trace context still travels).
  GatewayInterceptorFactory(GrpcServerMetrics* metrics, SpanSink* sink)
      : metrics_(metrics), sink_(sink) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  GrpcServerMetrics* const metrics_;
  SpanSink* const sink_;
};

}  // namespace troupe

#endif  // ACTORS_GRPC_CALL_INTERCEPTOR_H_
