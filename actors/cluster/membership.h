// Cluster membership: which nodes are alive, as a trusted store (etcd) sees them, and whether
// this node may still act as a member.
//
// A MembershipProvider joins this node (its name, RemoteNode address, an incarnation that is new
// at every join, and the virtual-actor kinds it hosts), keeps it joined, and tells a listener,
// in order: OnJoined (with the incarnation), then every new view of the live members; OnFenced
// when this node lost (or can no longer prove) its place - it must stop serving virtual actors
// at once - after which it joins again by itself with a new incarnation. Two implementations:
// EtcdMembership (leases, a watch) and InMemoryMembership (for unit tests: a hub that scripts
// joins, leaves, partitions and lease loss).
//
// A LeaseGuard says, at the moment of use, whether this node's membership is still provably
// valid: a node that was paused (SIGSTOP, a long GC-like stall) past its lease sees it invalid
// before it handles anything, even before the provider's own timers run.
//
// Thread safety: providers' methods from any thread; listener callbacks come from the
// provider's own actor, one at a time. LeaseGuard from any thread.
#ifndef ACTORS_CLUSTER_MEMBERSHIP_H_
#define ACTORS_CLUSTER_MEMBERSHIP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace troupe::cluster {

struct ClusterMember {
  std::string name;          // unique in the cluster (with TLS: a name its certificate carries)
  std::string address;       // host:port its RemoteNode listens on
  uint64_t incarnation = 0;  // new at every join: a restarted or re-joined node is another one
  std::vector<std::string> kinds;  // the virtual-actor kinds it hosts
  bool Hosts(std::string_view kind) const;
};

struct MembershipView {
  int64_t revision = 0;                // the store's revision this view reflects
  std::vector<ClusterMember> members;  // the live members, sorted by name
  const ClusterMember* Find(std::string_view name) const;
};

class MembershipListener {
 public:
  virtual ~MembershipListener() = default;
  virtual void OnJoined(const ClusterMember& self) = 0;
  virtual void OnView(const MembershipView& view) = 0;
  virtual void OnFenced(const absl::Status& why) = 0;
};

// The claim behind a single activation: who holds it, and its revision (a fencing token: it
// only grows, so an external store can refuse writes from an older holder).
struct Claim {
  std::string owner;
  uint64_t owner_incarnation = 0;
  int64_t revision = 0;
  bool ours = false;
};

// Until when this node's membership is provably valid (its last renewal, plus the lease, less a
// safety margin). Updated by the provider; read at every use.
class LeaseGuard {
 public:
  bool Valid() const { return absl::Now() < Until(); }
  absl::Time Until() const {
    return absl::FromUnixNanos(until_nanos_.load(std::memory_order_acquire));
  }
  void ExtendTo(absl::Time until) {
    until_nanos_.store(absl::ToUnixNanos(until), std::memory_order_release);
  }
  void Invalidate() { until_nanos_.store(0, std::memory_order_release); }

 private:
  std::atomic<int64_t> until_nanos_{0};
};

class MembershipProvider {
 public:
  virtual ~MembershipProvider() = default;
  // Joins as `self` (its incarnation is chosen by the provider) and keeps it joined.
  virtual void Start(ClusterMember self, std::shared_ptr<MembershipListener> listener) = 0;
  // Leaves at once (peers see this node gone now, not after its lease); `done` once finished.
  virtual void Leave(std::function<void(absl::Status)> done) = 0;
  // Single activation: claims `key` for this member unless someone holds it; `done` gets the
  // claim that holds (ours, or the earlier one). UNAVAILABLE: the store cannot be reached (no
  // claim was made: do not activate). A claim lives as long as this member's membership.
  virtual void ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done) = 0;
  virtual void ReleaseKey(std::string key) = 0;
  // The claims held now whose keys start with `prefix` (ours marked), sorted by key.
  // UNAVAILABLE: the store cannot be reached.
  using ClaimList = std::vector<std::pair<std::string, Claim>>;
  virtual void ReadClaims(std::string prefix, std::function<void(absl::StatusOr<ClaimList>)> done) = 0;
  // Shared: it may be read after the provider is gone (it is then invalid).
  virtual std::shared_ptr<const LeaseGuard> lease() const = 0;
};

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_MEMBERSHIP_H_
