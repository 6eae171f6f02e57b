// AskForCall: serves a unary gRPC method by asking an actor (the GrpcGateway's unary form).
//
//   class EchoService final : public troupe::examples::Echo::CallbackService {
//     grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* ctx, const EchoRequest* req,
//                                   EchoReply* reply) override {
//       return troupe::AskForCall(system_, ctx, echo_actor_, *req, reply);
//     }
//   };
//
// The actor's Protocol has an entry Request<Req, Resp> - or Request<GrpcCall<Req>, Resp> to see
// who is calling (the verified PeerIdentity, actors/tls). The ask carries the call's deadline:
// past it the call ends with DEADLINE_EXCEEDED and a reply that comes later is dropped. The
// deadline and a client cancellation reach the actor if it listens (ctx().OnCancel(promise, fn)).
// An actor error status goes to the client with the same code; a stopped actor is NOT_FOUND. No
// gRPC thread waits: the reply finishes the call from the thread that produced it. A caller's
// `traceparent` travels with the ask (actors/grpc/grpc_trace.h).
//
// Thread safety: call from a gRPC callback handler (any thread).
#ifndef ACTORS_GRPC_UNARY_CALL_H_
#define ACTORS_GRPC_UNARY_CALL_H_

#include <atomic>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "actors/grpc/grpc_status.h"
#include "actors/grpc/grpc_trace.h"
#include "actors/tls/peer_identity.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

// A unary request with its caller: list Request<GrpcCall<Req>, Resp> in an actor's Protocol
// (instead of Request<Req, Resp>) and AskForCall sends this.
template <typename Req>
struct GrpcCall {
  Req request;
  PeerIdentity peer;
};

namespace internal {

// The ask behind one gRPC call, as seen from the call's reactor: gRPC's OnCancel (client gone,
// deadline) cancels it, whether it comes before or after the ask was sent. Any thread.
class CallAsk {
 public:
  void Set(AskHandle ask) {
    std::optional<absl::Status> cancelled;
    {
      MutexLock lock(&mu_);
      ask_ = ask;
      cancelled = cancelled_;
    }
    if (cancelled.has_value()) ask.Cancel(*cancelled);
  }
  void Cancel(absl::Status why) {
    AskHandle ask;
    {
      MutexLock lock(&mu_);
      cancelled_ = why;
      ask = ask_;
    }
    ask.Cancel(std::move(why));
  }

 private:
  Mutex mu_;
  AskHandle ask_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> cancelled_ ABSL_GUARDED_BY(mu_);
};

// A unary call's reactor: the actor's reply finishes the call; a client cancellation or the
// deadline cancels the ask, which the actor hears of through ActorContext::OnCancel. Deleted
// when both gRPC (OnDone) and AskForCall (SetAsk) are done with it.
class UnaryCallReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCallReactor(grpc::CallbackServerContext* context) : context_(context) {}

  void SetAsk(AskHandle ask) {
    ask_.Set(std::move(ask));
    Unref();
  }
  void OnCancel() override { ask_.Cancel(CancelReason(*context_)); }
  void OnDone() override { Unref(); }

 private:
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  grpc::CallbackServerContext* const context_;
  std::atomic<int> refs_{2};
  CallAsk ask_;
};

}  // namespace internal

template <typename P, typename Req, typename Resp>
grpc::ServerUnaryReactor* AskForCall(ActorSystem& system, grpc::CallbackServerContext* context,
                                     const ActorRef<P>& actor, const Req& request, Resp* response) {
  constexpr bool kWithCaller = P::template kAccepts<GrpcCall<Req>>;
  using Asked = std::conditional_t<kWithCaller, GrpcCall<Req>, Req>;
  static_assert(std::is_same_v<typename P::template EntryOf<Asked>::Response, Resp>,
                "the actor's Protocol must have the entry Request<Req, Resp> or "
                "Request<GrpcCall<Req>, Resp>");
  auto* reactor = new internal::UnaryCallReactor(context);
  auto done = [reactor, response](absl::StatusOr<Resp> result) {
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(result.status()));
      return;
    }
    *response = std::move(*result);
    reactor->Finish(grpc::Status::OK);
  };
  // The response object and the reactor stay valid until Finish(): the callback runs once.
  // No timer per call: gRPC enforces the deadline and its OnCancel cancels the ask.
  const std::optional<TraceContext> trace = ServedCallTrace(*context);
  ScopedTrace traced(trace.has_value() ? &*trace : nullptr);
  if constexpr (kWithCaller) {
    reactor->SetAsk(system.Ask(actor, GrpcCall<Req>{request, PeerIdentityOf(*context)},
                               absl::InfiniteDuration(), std::move(done)));
  } else {
    reactor->SetAsk(system.Ask(actor, Req(request), absl::InfiniteDuration(), std::move(done)));
  }
  return reactor;
}

}  // namespace troupe

#endif  // ACTORS_GRPC_UNARY_CALL_H_
