// EtcdClient: the calls troupe's cluster makes to etcd's v3 API (proto/etcd.proto, wire-
// compatible with etcd 3.4), over one gRPC channel to the cluster's members.
//
// Every call is asynchronous and has a deadline: `done` runs once, on a gRPC thread (never
// inside the call), with the response or the failure (gRPC's status: UNAVAILABLE when no member
// answers, DEADLINE_EXCEEDED, or what etcd said). A linearizable read or any write fails while
// etcd has no quorum. The channel tries the endpoints in turn (pick-first), so a dead member is
// skipped.
//
// A watch streams responses to `on_response` in order until it ends: `on_end` then runs once
// with why (OK: cancelled by us; etcd's cancel reason, e.g. the revision was compacted; or the
// stream broke). Callers re-read and re-watch after an end they did not ask for.
//
// Thread safety: all methods from any thread. The client must outlive nothing it started: its
// destructor cancels the watches and waits for the calls in flight to finish (their deadlines
// bound the wait), so no callback runs after it returns.
#ifndef ACTORS_CLUSTER_ETCD_CLIENT_H_
#define ACTORS_CLUSTER_ETCD_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tls/tls_options.h"
#include "framework/base/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/etcd.grpc.pb.h"

namespace troupe::cluster {

struct EtcdOptions {
  std::vector<std::string> endpoints;    // each member's client address, host:port
  std::optional<TlsChannelOptions> tls;  // for etcd members serving https
};

// The end of the key range holding every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix);

class EtcdClient {
 public:
  template <typename Resp>
  using Done = std::function<void(absl::StatusOr<Resp>)>;

  // INVALID_ARGUMENT: no endpoint, or bad TLS files.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdOptions options);
  ~EtcdClient();

  void Range(etcdserverpb::RangeRequest request, absl::Duration timeout,
             Done<etcdserverpb::RangeResponse> done);
  void Put(etcdserverpb::PutRequest request, absl::Duration timeout,
           Done<etcdserverpb::PutResponse> done);
  void DeleteRange(etcdserverpb::DeleteRangeRequest request, absl::Duration timeout,
                   Done<etcdserverpb::DeleteRangeResponse> done);
  void Txn(etcdserverpb::TxnRequest request, absl::Duration timeout,
           Done<etcdserverpb::TxnResponse> done);
  void Compact(int64_t revision, absl::Duration timeout,
               Done<etcdserverpb::CompactionResponse> done);
  void LeaseGrant(int64_t ttl_seconds, absl::Duration timeout,
                  Done<etcdserverpb::LeaseGrantResponse> done);
  void LeaseRevoke(int64_t lease, absl::Duration timeout,
                   Done<etcdserverpb::LeaseRevokeResponse> done);
  // One keep-alive round trip (its own short stream). A response with TTL 0: the lease is gone.
  void LeaseKeepAlive(int64_t lease, absl::Duration timeout,
                      Done<etcdserverpb::LeaseKeepAliveResponse> done);

  class Watch {
   public:
    virtual ~Watch() = default;
    virtual void Cancel() = 0;  // on_end follows with OK
  };
  std::shared_ptr<Watch> StartWatch(
      etcdserverpb::WatchCreateRequest request,
      std::function<void(const etcdserverpb::WatchResponse&)> on_response,
      std::function<void(absl::Status)> on_end);

 private:
  explicit EtcdClient(std::shared_ptr<grpc::Channel> channel);
  template <typename Req, typename Resp, typename Method>
  void Unary(Method method, Req request, absl::Duration timeout, Done<Resp> done);
  void Began();
  void Ended();

  class WatchCall;
  class KeepAliveCall;

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
  Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::weak_ptr<Watch>> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_ETCD_CLIENT_H_
