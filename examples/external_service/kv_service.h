// AddKvMethods: the KeyValue gRPC API (kv.proto) in front of a KvStore actor, its methods added
// to a troupe::GrpcGateway by name (served from the completion queues the workers drive). Get,
// Put and Delete are asks to the store; each Watch call's stream is handed to the store, which
// gets its one WatchRequest as the stream's first message. Call before the gateway starts.
#ifndef KV_SERVICE_H_
#define KV_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "actors/grpc/gateway.h"
#include "kv.grpc.pb.h"
#include "kv_store.h"

namespace kv {

inline absl::Status AddKvMethods(troupe::GrpcGateway& gateway,
                                 const troupe::ActorRef<KvProtocol>& store) {
  using troupe::GrpcMethod;
  absl::Status added = gateway.AddUnary<GetRequest, GetReply>(GrpcMethod<KeyValue>("Get"), store);
  if (added.ok()) {
    added = gateway.AddUnary<PutRequest, PutReply>(GrpcMethod<KeyValue>("Put"), store);
  }
  if (added.ok()) {
    added = gateway.AddUnary<DeleteRequest, DeleteReply>(GrpcMethod<KeyValue>("Delete"), store);
  }
  if (added.ok()) {
    added = gateway.AddStream<WatchRequest, WatchEvent>(
        GrpcMethod<KeyValue>("Watch"),
        [store](WatchStream s) { store.Tell(NewWatch{std::move(s)}); });
  }
  return added;
}

}  // namespace kv

#endif  // KV_SERVICE_H_
