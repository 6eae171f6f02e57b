// Trace context on gRPC calls (W3C `traceparent` metadata; framework/trace/trace_context.h).
//
// Served calls: the gateway (its server interceptor, call_interceptor.h, on gRPC's threads;
// its call object on the worker queues) takes the caller's `traceparent` (ServerCallTrace; a
// malformed one is dropped, the call then untraced) and replaces it with the gateway's own
// span of the call, so the handler that asks an actor
// (AskForCall, the generic routes, ServeStream) makes that span current with ServedCallTrace()
// and the actor's messages carry it. When a sampled call ends, its span (kind "server", named
// by the method, attribute grpc_code) goes to the ActorSystem's SpanSink.
//
// Outgoing calls: AddTraceContext(&client_context) passes the current trace on, as the parent
// of whatever the callee does:
//
//   grpc::ClientContext context;
//   troupe::AddTraceContext(&context);   // inside a traced handler: its span is the parent
//   stub->Call(&context, request, &reply);
//
// Thread safety: ServerCallTrace belongs to one call (gRPC runs its interceptor's hooks one at
// a time); the functions from any thread.
#ifndef ACTORS_GRPC_GRPC_TRACE_H_
#define ACTORS_GRPC_GRPC_TRACE_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/string_ref.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"

#include "framework/trace/span_sink.h"
#include "framework/trace/trace_context.h"

namespace troupe {

// One served call's trace, as its interceptor sees it.
class ServerCallTrace {
 public:
  // With the call's received metadata: takes the caller's traceparent (the first, if several)
  // and puts the gateway's span of the call in its place. The map refers to this object's
  // memory from then on: it must live as long as the call.
  void TakeCallersTrace(std::multimap<grpc::string_ref, grpc::string_ref>& metadata);
  // When the status is sent: records the gateway's span if the trace is sampled.
  void End(SpanSink* sink, const char* method, int code);

 private:
  TraceContext mine_;
  uint64_t parent_span_id_ = 0;
  absl::Time start_;
  std::string header_;
};

// The trace a served call runs under: the gateway's span of it, if the caller sent a valid
// traceparent.
std::optional<TraceContext> ServedCallTrace(const grpc::ServerContextBase& context);

// Adds the current trace (if any) to an outgoing call as its `traceparent`.
void AddTraceContext(grpc::ClientContext* context);

}  // namespace troupe

#endif  // ACTORS_GRPC_GRPC_TRACE_H_
