// KvStore: a key-value store as one actor (it owns the map; no locks) with a gRPC face.
#ifndef KV_STORE_H_
#define KV_STORE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "actors/grpc/unary_call.h"
#include "framework/system/actor_system.h"
#include "kv.grpc.pb.h"

namespace kv {

using KvProtocol =
    troupe::Protocol<troupe::Request<GetRequest, GetReply>, troupe::Request<PutRequest, PutReply>,
                     troupe::Request<DeleteRequest, DeleteReply>>;

class KvStore : public troupe::Actor<KvStore, KvProtocol> {
 public:
  GetReply Handle(const GetRequest& r) {
    GetReply reply;
    if (auto it = map_.find(r.key()); it != map_.end()) {
      reply.set_found(true);
      reply.set_value(it->second);
    }
    return reply;
  }
  absl::StatusOr<PutReply> Handle(PutRequest r) {
    if (r.key().empty()) return absl::InvalidArgumentError("empty key");
    PutReply reply;
    reply.set_replaced(map_.contains(r.key()));
    map_[r.key()] = std::move(*r.mutable_value());
    return reply;
  }
  DeleteReply Handle(const DeleteRequest& r) {
    DeleteReply reply;
    reply.set_deleted(map_.erase(r.key()) > 0);
    return reply;
  }

 private:
  absl::flat_hash_map<std::string, std::string> map_;
};

// The gRPC service: each call is an ask to the store.
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

 private:
  troupe::ActorSystem& system_;
  troupe::ActorRef<KvProtocol> store_;
};

}  // namespace kv

#endif  // KV_STORE_H_
