// EtcdMembership: cluster membership kept in etcd (MembershipProvider, membership.h).
//
// How it works (etcd's v3 API, proto/etcd.proto):
//  1. Join: grant a lease of `ttl`, put /troupe/CLUSTER/members/NAME (a MemberRecord with a new
//     incarnation) under it, read the members' prefix (revision R): the first view. Then watch
//     the prefix from R + 1, so no change between the read and the watch is lost.
//  2. Stay: a keep-alive every ttl / 3, each with a deadline. A renewal sent at time t keeps the
//     LeaseGuard valid until t + ttl - margin (margin = ttl / 5): etcd cannot expire the lease
//     before t + ttl, and peers learn of the expiry only after that, so this node stops acting
//     as a member before anyone can take over its virtual actors.
//  3. Fence: when the guard runs out (no renewal got through: etcd unreachable, no quorum, this
//     process was paused), when a renewal says the lease is gone, or when the watch shows this
//     member's key deleted: OnFenced, stop watching, then join again from step 1 with a new
//     incarnation (retrying every ttl / 3 until etcd answers).
//  4. Watch ends (etcd cancelled it - e.g. the start revision was compacted - or the stream
//     broke): read the prefix again and watch from its revision + 1.
//  5. Leave: revoke the lease (etcd deletes the member key and its claims at once).
// Claims (single activation) are keys /troupe/CLUSTER/claims/KEY created by a transaction that
// succeeds only if the key does not exist, under this member's lease.
//
// Thread safety: all methods from any thread. The agent runs as an actor in `system`; the
// EtcdMembership must be destroyed from a thread that is not one of `system`'s workers (its
// destructor waits for etcd calls in flight) and before `system`.
#ifndef ACTORS_CLUSTER_ETCD_MEMBERSHIP_H_
#define ACTORS_CLUSTER_ETCD_MEMBERSHIP_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/cluster/etcd_client.h"
#include "actors/cluster/membership.h"
#include "framework/system/actor_system.h"

namespace troupe::cluster {

struct EtcdMembershipOptions {
  EtcdOptions etcd;
  std::string cluster = "troupe";  // keys live under /troupe/CLUSTER/
  absl::Duration ttl = absl::Seconds(5);
  absl::Duration call_timeout = absl::Seconds(1);  // each etcd call
};

struct EtcdMembershipStats {
  uint64_t joins = 0, fences = 0, watch_restarts = 0, keepalives = 0, keepalive_failures = 0;
};

class EtcdMembership final : public MembershipProvider {
 public:
  // INVALID_ARGUMENT: no endpoint, a TTL under 2 s (etcd leases are whole seconds), bad TLS.
  static absl::StatusOr<std::unique_ptr<EtcdMembership>> Create(ActorSystem& system,
                                                                EtcdMembershipOptions options);
  ~EtcdMembership() override;

  void Start(ClusterMember self, std::shared_ptr<MembershipListener> listener) override;
  void Leave(std::function<void(absl::Status)> done) override;
  void ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done) override;
  void ReleaseKey(std::string key) override;
  void ReadClaims(std::string prefix,
                  std::function<void(absl::StatusOr<ClaimList>)> done) override;
  std::shared_ptr<const LeaseGuard> lease() const override { return guard_; }

  // A snapshot, taken on the agent (blocks the caller briefly: not from a worker).
  EtcdMembershipStats stats() const;
  // Tests: restart the watch from `revision` (e.g. one already compacted away).
  void RestartWatchForTest(int64_t revision);

  class Agent;  // the actor doing the work (etcd_membership.cc)

 private:
  EtcdMembership() = default;
  // Runs `fn` on the agent, as a message; false if the agent has stopped.
  bool Call(absl::AnyInvocable<void(Agent&)> fn);

  std::unique_ptr<EtcdClient> client_;
  std::shared_ptr<LeaseGuard> guard_ = std::make_shared<LeaseGuard>();
  std::function<bool(absl::AnyInvocable<void(Agent&)>)> call_;
  std::function<void()> stop_agent_;
};

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_ETCD_MEMBERSHIP_H_
