// Trace context on gRPC calls (W3C `traceparent` metadata; framework/trace/trace_context.h).
//
// Served calls: GrpcTraceFactory, a server interceptor every GrpcGateway installs, reads the
// caller's `traceparent` (a malformed one is dropped, the call then untraced) and replaces it
// with the gateway's own span of the call, so the handler that asks an actor (AskForCall, the
// generic routes, ServeStream) makes that span current with ServedCallTrace() and the actor's
// messages carry it. When a sampled call ends, its span (kind "server", named by the method,
// attribute grpc_code) goes to the ActorSystem's SpanSink.
//
// Outgoing calls: AddTraceContext(&client_context) passes the current trace on, as the parent
// of whatever the callee does:
//
//   grpc::ClientContext context;
//   troupe::AddTraceContext(&context);   // inside a traced handler: its span is the parent
//   stub->Call(&context, request, &reply);
//
// Thread safety: gRPC calls the factory and its interceptors from its threads; the functions
// from any thread.
#ifndef ACTORS_GRPC_GRPC_TRACE_H_
#define ACTORS_GRPC_GRPC_TRACE_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include <optional>

#include "framework/trace/span_sink.h"
#include "framework/trace/trace_context.h"

namespace troupe {

class GrpcTraceFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GrpcTraceFactory(SpanSink* sink) : sink_(sink) {}  // sink: may be null
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  SpanSink* const sink_;
};

// The trace a served call runs under: the gateway's span of it, if the caller sent a valid
// traceparent.
std::optional<TraceContext> ServedCallTrace(const grpc::ServerContextBase& context);

// Adds the current trace (if any) to an outgoing call as its `traceparent`.
void AddTraceContext(grpc::ClientContext* context);

}  // namespace troupe

#endif  // ACTORS_GRPC_GRPC_TRACE_H_
