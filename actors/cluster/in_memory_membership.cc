#include "actors/cluster/in_memory_membership.h"

#include <algorithm>

#include "absl/strings/match.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace troupe::cluster {

struct InMemoryMembershipHub::Node {
  ClusterMember self;
  std::shared_ptr<MembershipListener> listener;
  LeaseGuard guard;
  bool fenced = false;
};

class InMemoryMembership final : public MembershipProvider {
 public:
  explicit InMemoryMembership(std::shared_ptr<InMemoryMembershipHub> hub)
      : hub_(std::move(hub)), node_(std::make_shared<InMemoryMembershipHub::Node>()) {}
  ~InMemoryMembership() override {  // a crash, not a leave: its lease runs out
    if (node_->self.name.empty()) return;
    {
      MutexLock lock(&hub_->mu_);
      hub_->known_.erase(node_->self.name);  // so it does not rejoin
    }
    hub_->ExpireLease(node_->self.name);
  }

  void Start(ClusterMember self, std::shared_ptr<MembershipListener> listener) override {
    InMemoryMembershipHub::Notify out;
    {
      MutexLock lock(&hub_->mu_);
      node_->self = std::move(self);
      node_->listener = std::move(listener);
      hub_->known_[node_->self.name] = node_;
      if (!hub_->partitioned_.contains(node_->self.name)) hub_->JoinLocked(node_, out);
    }
    for (auto& f : out) f();
  }
  void Leave(std::function<void(absl::Status)> done) override {
    InMemoryMembershipHub::Notify out;
    {
      MutexLock lock(&hub_->mu_);
      node_->guard.Invalidate();
      hub_->known_.erase(node_->self.name);
      hub_->RemoveLocked(node_->self.name, out);
    }
    for (auto& f : out) f();
    node_->self.name.clear();
    done(absl::OkStatus());
  }
  void ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done) override {
    absl::StatusOr<Claim> result;
    {
      MutexLock lock(&hub_->mu_);
      if (!hub_->nodes_.contains(node_->self.name) || !node_->guard.Valid()) {
        result = absl::UnavailableError("not a member now: no claim");
      } else {
        auto it = hub_->claims_.find(key);
        if (it == hub_->claims_.end()) {
          it = hub_->claims_
                   .emplace(key, Claim{node_->self.name, node_->self.incarnation,
                                       ++hub_->revision_, false})
                   .first;
        }
        result = it->second;
        result->ours = it->second.owner == node_->self.name &&
                       it->second.owner_incarnation == node_->self.incarnation;
      }
    }
    done(std::move(result));
  }
  void ReleaseKey(std::string key) override {
    MutexLock lock(&hub_->mu_);
    auto it = hub_->claims_.find(key);
    if (it != hub_->claims_.end() && it->second.owner == node_->self.name &&
        it->second.owner_incarnation == node_->self.incarnation) {
      hub_->claims_.erase(it);
    }
  }
  void ReadClaims(std::string prefix,
                  std::function<void(absl::StatusOr<ClaimList>)> done) override {
    ClaimList claims;
    {
      MutexLock lock(&hub_->mu_);
      for (const auto& [key, claim] : hub_->claims_) {
        if (!absl::StartsWith(key, prefix)) continue;
        Claim c = claim;
        c.ours = c.owner == node_->self.name && c.owner_incarnation == node_->self.incarnation;
        claims.emplace_back(key, c);
      }
    }
    std::sort(claims.begin(), claims.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    done(std::move(claims));
  }
  std::shared_ptr<const LeaseGuard> lease() const override {
    return std::shared_ptr<const LeaseGuard>(node_, &node_->guard);
  }

 private:
  std::shared_ptr<InMemoryMembershipHub> hub_;
  std::shared_ptr<InMemoryMembershipHub::Node> node_;
};

std::shared_ptr<InMemoryMembershipHub> InMemoryMembershipHub::Create() {
  return std::shared_ptr<InMemoryMembershipHub>(new InMemoryMembershipHub());
}

std::unique_ptr<MembershipProvider> InMemoryMembershipHub::NewProvider() {
  return std::make_unique<InMemoryMembership>(shared_from_this());
}

void InMemoryMembershipHub::JoinLocked(const std::shared_ptr<Node>& node, Notify& out) {
  node->self.incarnation = next_incarnation_++;
  node->fenced = false;
  node->guard.ExtendTo(absl::InfiniteFuture());
  nodes_[node->self.name] = node;
  ++revision_;
  out.push_back([node, self = node->self] { node->listener->OnJoined(self); });
  PublishLocked(out);
}

void InMemoryMembershipHub::RemoveLocked(const std::string& name, Notify& out) {
  if (nodes_.erase(name) == 0) return;
  absl::erase_if(claims_, [&](const auto& c) { return c.second.owner == name; });
  ++revision_;
  PublishLocked(out);
}

MembershipView InMemoryMembershipHub::ViewLocked() const {
  MembershipView view;
  view.revision = revision_;
  for (const auto& [name, node] : nodes_) view.members.push_back(node->self);
  std::sort(view.members.begin(), view.members.end(),
            [](const ClusterMember& a, const ClusterMember& b) { return a.name < b.name; });
  return view;
}

void InMemoryMembershipHub::PublishLocked(Notify& out) {
  const MembershipView view = ViewLocked();
  for (const auto& [name, node] : nodes_) {
    out.push_back([node, view] { node->listener->OnView(view); });
  }
}

void InMemoryMembershipHub::ExpireLease(const std::string& name) {
  Notify out;
  {
    MutexLock lock(&mu_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) return;
    std::shared_ptr<Node> node = it->second;
    node->guard.Invalidate();
    node->fenced = true;
    RemoveLocked(name, out);
    out.push_back([node] {
      node->listener->OnFenced(absl::UnavailableError("the membership lease expired"));
    });
    if (!partitioned_.contains(name) && known_.contains(name)) JoinLocked(node, out);
  }
  for (auto& f : out) f();
}

void InMemoryMembershipHub::Partition(const std::string& name) {
  MutexLock lock(&mu_);
  partitioned_.insert(name);
}

void InMemoryMembershipHub::Heal(const std::string& name) {
  Notify out;
  {
    MutexLock lock(&mu_);
    partitioned_.erase(name);
    auto it = known_.find(name);
    if (it != known_.end() && !nodes_.contains(name)) JoinLocked(it->second, out);
  }
  for (auto& f : out) f();
}

MembershipView InMemoryMembershipHub::view() const {
  MutexLock lock(&mu_);
  return ViewLocked();
}

}  // namespace troupe::cluster
