// KvService: the KeyValue gRPC API in front of a KvStore actor. Unary calls are asks to the
// store; each Watch call's stream is handed to the store. Owned by the caller; register it
// with a troupe::GrpcGateway, which must not outlive it.
#ifndef KV_SERVICE_H_
#define KV_SERVICE_H_

#include <utility>

#include "actors/grpc/stream_call.h"
#include "actors/grpc/unary_call.h"
#include "framework/system/actor_system.h"
#include "kv.grpc.pb.h"
#include "kv_store.h"

namespace kv {

class KvService final : public KeyValue::CallbackService {
 public:
  KvService(troupe::ActorSystem& system, troupe::ActorRef<KvProtocol> store)
      : system_(system), store_(std::move(store)) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* c, const GetRequest* r,
                                GetReply* out) override {
    return troupe::AskForCall(system_, c, store_, *r, out);
  }
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* c, const PutRequest* r,
                                PutReply* out) override {
    return troupe::AskForCall(system_, c, store_, *r, out);
  }
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* c, const DeleteRequest* r,
                                   DeleteReply* out) override {
    return troupe::AskForCall(system_, c, store_, *r, out);
  }
  grpc::ServerWriteReactor<WatchEvent>* Watch(grpc::CallbackServerContext* c,
                                              const WatchRequest* r) override {
    return troupe::ServeServerStream<WatchRequest, WatchEvent>(
        c, *r, [this](WatchStream stream) { store_.Tell(NewWatch{std::move(stream)}); });
  }

 private:
  troupe::ActorSystem& system_;
  troupe::ActorRef<KvProtocol> store_;
};

}  // namespace kv

#endif  // KV_SERVICE_H_
