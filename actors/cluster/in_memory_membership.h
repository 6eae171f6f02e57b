// InMemoryMembershipHub: membership without a store, for unit tests. One hub stands for the
// store; each node gets a provider from it. The test scripts what etcd and the network would
// do: a lease running out (the others drop the node, the node is fenced and joins again with a
// new incarnation), a partition (the node cannot rejoin until healed), graceful leaves, and
// claims that live as long as their holder's membership. Views are delivered at once, in the
// order the changes happen.
//
// Thread safety: all methods from any thread. Listener callbacks run on the thread making the
// change, one at a time, never while the hub's lock is held.
#ifndef ACTORS_CLUSTER_IN_MEMORY_MEMBERSHIP_H_
#define ACTORS_CLUSTER_IN_MEMORY_MEMBERSHIP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "actors/cluster/membership.h"
#include "framework/base/mutex.h"

namespace troupe::cluster {

class InMemoryMembershipHub : public std::enable_shared_from_this<InMemoryMembershipHub> {
 public:
  static std::shared_ptr<InMemoryMembershipHub> Create();

  std::unique_ptr<MembershipProvider> NewProvider();

  // The node's lease runs out now (others drop it; it is fenced, then rejoins unless
  // partitioned).
  void ExpireLease(const std::string& name);
  void Partition(const std::string& name);  // it cannot reach the store: cannot rejoin
  void Heal(const std::string& name);       // it can again (and rejoins if it was fenced)
  MembershipView view() const;

  struct Node;  // one provider's state

 private:
  InMemoryMembershipHub() = default;
  friend class InMemoryMembership;
  using Notify = std::vector<std::function<void()>>;
  void JoinLocked(const std::shared_ptr<Node>& node, Notify& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const std::string& name, Notify& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(Notify& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  MembershipView ViewLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_incarnation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, std::shared_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);  // joined
  absl::flat_hash_map<std::string, std::shared_ptr<Node>> known_ ABSL_GUARDED_BY(mu_);  // started
  absl::flat_hash_set<std::string> partitioned_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Claim> claims_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_IN_MEMORY_MEMBERSHIP_H_
