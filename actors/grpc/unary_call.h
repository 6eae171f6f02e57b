// AskForCall: serves a unary gRPC method by asking an actor (the GrpcGateway's unary form).
//
//   class EchoService final : public troupe::examples::Echo::CallbackService {
//     grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* ctx, const EchoRequest* req,
//                                   EchoReply* reply) override {
//       return troupe::AskForCall(system_, ctx, echo_actor_, *req, reply);
//     }
//   };
//
// The actor's Protocol has an entry Request<Req, Resp>. The ask carries the call's deadline:
// past it the call ends with DEADLINE_EXCEEDED and a reply that comes later is dropped. An
// actor error status goes to the client with the same code; a stopped actor is NOT_FOUND. No
// gRPC thread waits: the reply finishes the call from the thread that produced it.
//
// Thread safety: call from a gRPC callback handler (any thread).
#ifndef ACTORS_GRPC_UNARY_CALL_H_
#define ACTORS_GRPC_UNARY_CALL_H_

#include <utility>

#include "actors/grpc/grpc_status.h"
#include "framework/system/actor_system.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

template <typename P, typename Req, typename Resp>
grpc::ServerUnaryReactor* AskForCall(ActorSystem& system, grpc::CallbackServerContext* context,
                                     const ActorRef<P>& actor, const Req& request, Resp* response) {
  static_assert(std::is_same_v<typename P::template EntryOf<Req>::Response, Resp>,
                "the actor's Protocol must have the entry Request<Req, Resp>");
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The response object and the reactor stay valid until Finish(): the callback runs once.
  system.Ask(actor, Req(request), TimeLeft(*context),
             [reactor, response](absl::StatusOr<Resp> result) {
               if (!result.ok()) {
                 reactor->Finish(ToGrpcStatus(result.status()));
                 return;
               }
               *response = std::move(*result);
               reactor->Finish(grpc::Status::OK);
             });
  return reactor;
}

}  // namespace troupe

#endif  // ACTORS_GRPC_UNARY_CALL_H_
