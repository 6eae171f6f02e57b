// KvStore: a key-value store as one actor. It owns the map and the watches (no locks): Get, Put
// and Delete are requests; a watch is a server stream the store writes each change to.
//
// Thread safety: like every actor, reached only through its ActorRef<KvProtocol>.
#ifndef KV_STORE_H_
#define KV_STORE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "actors/grpc/stream_call.h"
#include "framework/system/actor_system.h"
#include "kv.grpc.pb.h"

namespace kv {

using WatchStream = troupe::GrpcStream<WatchRequest, WatchEvent>;

// A new Watch call, handed to the store by the gRPC service.
struct NewWatch {
  WatchStream stream;
};

using KvProtocol = troupe::Protocol<
    troupe::Request<GetRequest, GetReply>, troupe::Request<PutRequest, PutReply>,
    troupe::Request<DeleteRequest, DeleteReply>, NewWatch, troupe::GrpcReceived<WatchRequest>,
    troupe::GrpcReadsDone, troupe::GrpcCallCancelled>;

struct KvStoreOptions {
  size_t max_watches = 10000;  // a Watch beyond this ends RESOURCE_EXHAUSTED at once
};

class KvStore : public troupe::Actor<KvStore, KvProtocol> {
 public:
  explicit KvStore(KvStoreOptions options = {}) : options_(options) {}

  GetReply Handle(const GetRequest& request);
  absl::StatusOr<PutReply> Handle(PutRequest request);
  DeleteReply Handle(const DeleteRequest& request);

  void Handle(NewWatch watch);
  void Handle(troupe::GrpcReceived<WatchRequest> request);  // the watch's prefix: start it
  void Handle(troupe::GrpcReadsDone) {}                      // a watch lasts until cancelled
  void Handle(troupe::GrpcCallCancelled ended);

 private:
  struct Watch {
    WatchStream stream;
    std::string prefix;
    bool started = false;  // its request (the prefix) has arrived and the snapshot was sent
  };
  // Sends `event` to every started watch on a matching prefix; ends those that cannot keep up.
  void Publish(const WatchEvent& event);

  KvStoreOptions options_;
  absl::flat_hash_map<std::string, std::string> map_;
  absl::flat_hash_map<uint64_t, Watch> watches_;  // by call id
};

}  // namespace kv

#endif  // KV_STORE_H_
