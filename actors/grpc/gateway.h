// GrpcGateway: a gRPC server whose methods are served by actors.
//
//   troupe::GrpcGateway gateway(system);
//   gateway.AddService(&echo_service);            // typed: a generated CallbackService whose
//                                                 // methods call AskForCall / ServeStream
//   gateway.AddUnary("/kv.Store/Get", store);     // generic: method name + bytes, no codegen
//   gateway.AddUnary<GetRequest, GetReply>(GrpcMethod<Store>("Get"), store);  // typed, by name
//   absl::StatusOr<int> port = gateway.Start(   // beyond loopback: TLS, or allow_insecure
//       {.address = "0.0.0.0:7001", .tls = {.files = {.ca_file = "ca.pem",
//                                                     .cert_file = "server.pem",
//                                                     .key_file = "server.key"}}});
//
// Generic unary methods ask an actor whose Protocol has Request<GrpcBytes, std::string>: the
// request's serialized bytes in, the response's serialized bytes out (an error status goes to
// the client as is); generic streaming methods hand a GrpcStream<grpc::ByteBuffer,
// grpc::ByteBuffer> to `on_stream` (see stream_call.h). Typed methods by name need no service
// class: AddUnary<Req, Resp> asks an actor with Request<Req, Resp> (or Request<GrpcCall<Req>,
// Resp>, to see the caller), AddStream<Req, Resp> hands out GrpcStream<Req, Resp> for bidi and
// server-streaming methods alike (byte_stream.h); a message that does not parse ends the call
// with INVALID_ARGUMENT. A call to a method nobody serves ends with UNIMPLEMENTED. The server's
// limits (message size, concurrent streams per connection, handshake, keepalive and idle
// timeouts) are set explicitly in GrpcServerOptions.
//
// Where calls run (GrpcServerOptions::worker_queues): by default on gRPC completion queues
// troupe's workers poll (worker_queues.h; one for every 4 workers, each polled by its share of
// them): a call's arrival, the actor's turn and the reply run on the worker that polled it. That
// mode serves every method added by name
// (AddUnary, AddStream). A typed callback service (AddService) brings gRPC's own threads, which
// would poll the same sockets and take the calls elsewhere: with one, the gateway serves every
// call on gRPC's callback threads, handing each to the actor's worker and back (logged at Start;
// worker_queues = true with a typed service fails Start). worker_queues = false asks for gRPC's
// threads outright.
//
// Security (actors/tls): with GrpcServerOptions::tls the gateway speaks TLS, by default mutual
// (clients need a certificate its CA admits). Listening on a non-loopback address without TLS
// fails Start unless allow_insecure says so. Every actor serving a call can see who called
// (PeerIdentity: GrpcCall<Req> for typed unary methods, GrpcBytes::peer, GrpcStream::peer()),
// and Restrict() limits a method, a service or everything to some identities: a refused call
// ends with PERMISSION_DENIED before any actor sees it, and is counted (stats()).
//
// Observability: every call is counted in the system's metrics by method and status code with
// its latency, and a caller's W3C `traceparent` makes the call a span whose trace the serving
// actor's messages carry (grpc_trace.h): on gRPC's threads through one server interceptor
// (call_interceptor.h), on the worker queues done by the gateway's call itself.
//
// Thread safety: Add*, Start and Shutdown from the thread that owns the gateway.
// The gateway must outlive the calls it serves (Shutdown, or its destructor, waits for them).
#ifndef ACTORS_GRPC_GATEWAY_H_
#define ACTORS_GRPC_GATEWAY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "actors/grpc/byte_stream.h"
#include "actors/grpc/stream_call.h"
#include "actors/grpc/unary_call.h"
#include "actors/grpc/worker_queues.h"
#include "actors/tls/access_policy.h"
#include "actors/tls/peer_identity.h"
#include "actors/tls/tls_options.h"
#include "framework/system/actor_system.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

class GrpcServerMetrics;
namespace internal {
class AccessRules;
}

// One call of a generic unary method.
struct GrpcBytes {
  std::string method;   // "/package.Service/Method"
  std::string payload;  // the serialized request
  PeerIdentity peer;    // who called
};
using GrpcByteStream = GrpcStream<grpc::ByteBuffer, grpc::ByteBuffer>;

struct GrpcServerOptions {
  std::string address = "127.0.0.1:0";  // port 0: pick one (Start returns it)
  int max_message_bytes = 4 << 20;      // larger requests or replies fail RESOURCE_EXHAUSTED
  int max_concurrent_streams = 1000;    // per client connection (HTTP/2 SETTINGS)
  // TLS (on when its files are set; mutual unless tls.client_certificates says otherwise).
  TlsServerOptions tls;
  // Listen on a non-loopback address without TLS anyway (logged at start-up).
  bool allow_insecure = false;
  // A connection's TLS/HTTP/2 handshake must finish within this.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // The server pings an idle connection this often and drops it if the ping is not answered
  // within keepalive_timeout (a peer that vanished without closing).
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // A client may ping this often while no data flows (its keepalive); one that pings more often
  // is cut off with GOAWAY (too_many_pings) after two strikes, as gRPC does by default.
  absl::Duration min_client_ping_interval = absl::Minutes(5);
  // A connection without calls this long is closed (the client reconnects when it needs to).
  absl::Duration max_connection_idle = absl::Minutes(10);
  std::string name = "gRPC gateway";  // how errors and start-up warnings call this server
  // Serve calls from completion queues the workers drive (see above). Unset: yes, unless a
  // typed service was added.
  std::optional<bool> worker_queues;
  // With worker queues: how many (worker w polls queue w % count; at most one a worker). 0: one
  // for every 4 workers, at least one. The calls of one client connection spread over every
  // queue, and each queue's events reach the others' workers through gRPC's shared poller (a
  // thread hop): on 2 cores one queue both workers poll serves a unary call in 11.6 us of CPU,
  // two queues in 26.5 (docs/benchmarks.md).
  int worker_queue_count = 0;
};

struct GrpcGatewayStats {
  uint64_t permission_denied = 0;  // calls refused by a Restrict() rule
  WorkerQueueStats queues;         // with worker_queues: events polled and handed over
};

// A generated service's method by name, "/package.Service/Method", for AddUnary and AddStream:
//   gateway.AddUnary<EchoRequest, EchoReply>(GrpcMethod<Echo>("Say"), actor);
template <typename Service>
std::string GrpcMethod(absl::string_view method) {
  return absl::StrCat("/", Service::service_full_name(), "/", method);
}

// Bytes <-> grpc::ByteBuffer, for generic methods.
std::string ToBytes(const grpc::ByteBuffer& buffer);
grpc::ByteBuffer ToByteBuffer(const std::string& bytes);

class GrpcGateway {
 public:
  explicit GrpcGateway(ActorSystem& system);
  ~GrpcGateway();
  GrpcGateway(const GrpcGateway&) = delete;
  GrpcGateway& operator=(const GrpcGateway&) = delete;

  // A typed service (owned by the caller, outliving the gateway).
  absl::Status AddService(grpc::Service* service);
  // Generic unary method served by `actor`. ALREADY_EXISTS if the method is taken.
  template <typename P>
  absl::Status AddUnary(std::string method, const ActorRef<P>& actor) {
    static_assert(std::is_same_v<typename P::template EntryOf<GrpcBytes>::Response, std::string>,
                  "the actor's Protocol must have the entry Request<GrpcBytes, std::string>");
    ActorSystem* system = &system_;
    return AddRoute(std::move(method),
                    Route{[system, actor](GrpcBytes request, absl::Duration timeout,
                                          std::function<void(absl::StatusOr<std::string>)> done) {
                            return system->Ask(actor, std::move(request), timeout, std::move(done));
                          },
                          nullptr});
  }
  // Typed unary method by name ("/package.Service/Method", e.g. from the generated
  // Service::service_full_name()) served by `actor`: the request parsed as Req, the reply
  // serialized from Resp. ALREADY_EXISTS if the method is taken.
  template <typename Req, typename Resp, typename P>
  absl::Status AddUnary(std::string method, const ActorRef<P>& actor) {
    constexpr bool kWithCaller = P::template kAccepts<GrpcCall<Req>>;
    using Asked = std::conditional_t<kWithCaller, GrpcCall<Req>, Req>;
    static_assert(std::is_same_v<typename P::template EntryOf<Asked>::Response, Resp>,
                  "the actor's Protocol must have the entry Request<Req, Resp> or "
                  "Request<GrpcCall<Req>, Resp>");
    ActorSystem* system = &system_;
    auto unary = [system, actor](GrpcBytes call, absl::Duration timeout,
                                 std::function<void(absl::StatusOr<std::string>)> done) {
      Req request;
      if (!request.ParseFromString(call.payload)) {
        done(absl::InvalidArgumentError(
            absl::StrCat("the request does not parse as ", Req::descriptor()->full_name())));
        return AskHandle();
      }
      auto reply = [done = std::move(done)](absl::StatusOr<Resp> r) {
        if (!r.ok()) {
          done(r.status());
          return;
        }
        done(r->SerializeAsString());
      };
      if constexpr (kWithCaller) {
        return system->Ask(actor, GrpcCall<Req>{std::move(request), std::move(call.peer)},
                           timeout, std::move(reply));
      } else {
        return system->Ask(actor, std::move(request), timeout, std::move(reply));
      }
    };
    return AddRoute(std::move(method), Route{std::move(unary), nullptr});
  }
  // Typed streaming method by name: each call's GrpcStream<Req, Resp> goes to `on_stream` (on
  // the thread serving the call), messages parsed as Req and replies serialized from Resp.
  // Serves bidi and server-streaming methods alike (for a server stream the actor gets the one
  // request, then GrpcReadsDone). ALREADY_EXISTS if the method is taken.
  template <typename Req, typename Resp>
  absl::Status AddStream(std::string method,
                         std::function<void(GrpcStream<Req, Resp>)> on_stream,
                         GrpcStreamOptions options = {}) {
    return AddRoute(std::move(method),
                    Route{nullptr, internal::MakeOpenByteStream<Req, Resp>(std::move(on_stream),
                                                                           options)});
  }
  // Generic bidi streaming method: each call's stream goes to `on_stream` (on the thread
  // serving the call).
  absl::Status AddStream(std::string method, std::function<void(GrpcByteStream)> on_stream,
                         GrpcStreamOptions options = {});
  // Only peers `policy` admits may call `scope`: "/pkg.Service/Method", "pkg.Service" or ""
  // (every method). The most specific rule decides. Needs TLS (identities come from
  // certificates): Start fails FAILED_PRECONDITION with rules and no TLS. INVALID_ARGUMENT: a
  // malformed scope; ALREADY_EXISTS: that scope has a rule.
  absl::Status Restrict(std::string scope, AccessPolicy policy);

  // Starts serving. Returns the bound port. FAILED_PRECONDITION if started already, or a
  // non-loopback address without TLS nor allow_insecure, or rules without TLS;
  // INVALID_ARGUMENT: bad TLS files; UNAVAILABLE if the address cannot be bound.
  absl::StatusOr<int> Start(const GrpcServerOptions& options);
  GrpcGatewayStats stats() const;
  // Stops accepting calls; calls still running after `grace` are cancelled. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(2));

  struct Route {
    std::function<AskHandle(GrpcBytes, absl::Duration,
                            std::function<void(absl::StatusOr<std::string>)>)>
        unary;
    internal::OpenByteStream stream;  // a stream method's (byte_stream.h)
  };

 private:
  class GenericService;
  class QueuedCall;
  absl::Status AddRoute(std::string method, Route route);
  // With worker_queues: registers the async generic service and adds a queue per worker.
  absl::StatusOr<std::vector<std::unique_ptr<grpc::ServerCompletionQueue>>> AddWorkerQueues(
      grpc::ServerBuilder& builder, int count);

  ActorSystem& system_;
  std::shared_ptr<internal::AccessRules> rules_;
  std::shared_ptr<std::atomic<uint64_t>> denied_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::unique_ptr<GenericService> generic_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<GrpcServerMetrics> call_metrics_;  // outlives server_ (its calls use it)
  std::unique_ptr<grpc::AsyncGenericService> async_generic_;
  std::unique_ptr<WorkerQueues> worker_queues_;  // shut down after server_
  std::atomic<int64_t> queued_calls_{0};         // QueuedCalls alive (requested or running)
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace troupe

#endif  // ACTORS_GRPC_GATEWAY_H_
