// Cluster: virtual actors addressed by identity anywhere in a cluster of troupe nodes.
//
//   auto cluster = troupe::cluster::Cluster::Create(system, *node, std::move(membership),
//                                                   {.advertise_address = "10.0.0.2:7100"});
//   (*cluster)->Kind<Room>("room", {.passivate_after = absl::Minutes(10)});  // hosted here
//   (*cluster)->Start();
//   ActorRef<RoomProtocol> lobby = (*cluster)->Get<RoomProtocol>("room", "lobby").value();
//   lobby.Tell(say);                      // an ordinary ActorRef, usable from any node
//
// A kind is an actor class A with a Protocol of Protobuf messages (they may cross nodes) and a
// constructor A(VirtualIdentity, Args...). The owner of an identity (kind, id) is chosen by
// rendezvous hashing over the live members hosting the kind (placement.h); it activates the
// actor on its first message and passivates it after `passivate_after` without messages. When
// membership changes, an identity whose owner changes is passivated where it was and activated
// again where it now belongs on its next message (a join moves about 1/N, a death only the dead
// node's). With `single_activation` the owner first claims the identity in the membership store
// (etcd) under its lease; an existing claim wins over the hash, and its revision is the actor's
// fencing token (VirtualIdentity::fencing_token) for writes to external stores.
//
// Messages across a change keep troupe's at-most-once rule: while an identity has no owner
// (none of the live members hosts its kind, or this node is fenced) its messages wait, at most
// `buffer_limit` per identity for at most `buffer_timeout`, then go to the owner; what cannot be
// delivered is a dead letter, and an ask fails UNAVAILABLE. A message already sent to an owner
// that lost the identity meanwhile is refused there (dead letter; asks: UNAVAILABLE). Nothing is
// retried for you: retry is the caller's choice, for idempotent requests.
//
// Guarantees (see docs/clusters.md): at most one activation per identity while
// etcd has quorum and nodes fence themselves in time (a node that cannot renew its lease stops
// serving virtual actors before the lease can expire; a node paused past its lease checks the
// lease before it handles anything); single_activation also holds across views that disagree.
// Without quorum no new activations happen (membership and claims need etcd), existing ones
// stop at their node's fence: consistency over availability.
//
// Thread safety: Kind before Start; Get, view, stats from any thread; Leave and the destructor
// from a thread that is not one of the system's workers (they wait for etcd).
#ifndef ACTORS_CLUSTER_CLUSTER_H_
#define ACTORS_CLUSTER_CLUSTER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "actors/cluster/membership.h"
#include "actors/remote/remote_node.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"

namespace troupe::cluster {

struct VirtualIdentity {
  std::string kind;
  std::string id;
  int64_t fencing_token = 0;  // single_activation: the claim's revision (grows); else 0
};

struct KindOptions {
  absl::Duration passivate_after = absl::Minutes(5);
  bool single_activation = false;
};

struct ClusterOptions {
  std::string advertise_address;  // host:port peers reach this node's RemoteNode on (required)
  absl::Duration buffer_timeout = absl::Seconds(10);
  size_t buffer_limit = 1000;  // messages waiting for an owner, per identity
  absl::Duration ask_timeout = absl::Seconds(30);  // forwarded asks
};

struct ClusterStats {
  uint64_t views = 0, joins = 0, fences = 0;
  uint64_t activations = 0, passivations = 0, handed_over = 0;  // handed over: owner changed
  uint64_t sent_local = 0, sent_remote = 0, buffered = 0;
  uint64_t undeliverable = 0;  // waited past buffer_timeout or buffer_limit: dead letters
  uint64_t refused_not_owner = 0, refused_fenced = 0, refused_stranger = 0;
};

namespace internal {

// The state every virtual ref and host of one Cluster shares. Thread-safe.
class ClusterCore : public std::enable_shared_from_this<ClusterCore> {
 public:
  // `provider` is owned by the Cluster, which detaches it (DetachProvider) before destroying it.
  ClusterCore(ActorSystem& system, RemoteNode& node, MembershipProvider* provider,
              ClusterOptions options);
  ~ClusterCore();

  // A hosted activation: its host actor, what peers reach it by, how to stop it.
  struct Host {
    troupe::internal::CellRef cell;
    std::shared_ptr<const troupe::internal::Export> wire;
    const void* protocol = nullptr;
  };
  // How a kind makes a host for an identity (knows the actor type).
  using HostMaker = std::function<Host(const std::shared_ptr<ClusterCore>& core,
                                       const VirtualIdentity& identity)>;
  struct KindEntry {
    KindOptions options;
    HostMaker make;
    const void* protocol;
  };

  void AddKind(std::string kind, KindEntry entry);
  bool Hosts(std::string_view kind) const;
  const KindEntry* kind(std::string_view kind) const;  // kinds are fixed after Start

  // The current owner of (kind, id), or nothing (no live member hosts the kind, not joined).
  std::optional<ClusterMember> OwnerOf(std::string_view kind, std::string_view id) const;
  bool IsSelf(const ClusterMember& m) const;
  // The local host of (kind, id), activated if needed; null if this node may not host it now.
  std::optional<Host> LocalHost(const std::string& kind, const std::string& id,
                                const void* protocol);
  void HostStopped(const std::string& kind, const std::string& id, const void* cell);
  // The RemoteNode resolver for "~kind/id".
  absl::StatusOr<std::shared_ptr<const troupe::internal::Export>> Resolve(
      const std::string& name, const troupe::internal::RemoteSender& sender);
  // True while this node may act as a member (joined, not fenced, lease valid).
  bool Serving() const;
  // Changes whenever an owner or a local host may have changed (a view, a join, a fence, a
  // leave, a local passivation): a route computed under one epoch holds while it is current.
  uint64_t routing_epoch() const { return routing_epoch_.load(std::memory_order_acquire); }
  // Counted without the lock (every routed message counts).
  void CountSent(bool local) {
    (local ? sent_local_ : sent_remote_).fetch_add(1, std::memory_order_relaxed);
  }

  // A virtual ref hears of view changes (to flush what waited).
  void WatchViews(std::function<void()> on_change);

  void Start();
  void Leave();
  // From now on the provider is not called (its claims are released by its lease).
  void DetachProvider();
  // Claims and releases through the provider (while attached).
  void ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done);
  void ReleaseKey(std::string key);
  void ReadClaims(std::string prefix,
                  std::function<void(absl::StatusOr<MembershipProvider::ClaimList>)> done);
  uint64_t incarnation() const;  // this node's, while joined (0 otherwise)

  // The membership's events (through a listener holding this weakly).
  void OnJoined(const ClusterMember& self);
  void OnView(const MembershipView& view);
  void OnFenced(const absl::Status& why);

  MembershipView view() const;
  ClusterStats stats() const;
  void Count(uint64_t ClusterStats::*field, uint64_t n = 1);

  ActorSystem& system() { return system_; }
  RemoteNode& node() { return node_; }
  const ClusterOptions& options() const { return options_; }
  std::string self_name() const;

  static std::string WireName(std::string_view kind, std::string_view id) {
    return "~" + std::string(kind) + "/" + std::string(id);
  }

 private:
  void StopHostsNotOwnedLocked(std::vector<troupe::internal::CellRef>& to_stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyViewWatchers();
  void BumpRoutingEpoch() { routing_epoch_.fetch_add(1, std::memory_order_acq_rel); }

  ActorSystem& system_;
  RemoteNode& node_;
  const std::shared_ptr<const LeaseGuard> lease_;
  const ClusterOptions options_;
  Mutex provider_mu_;  // held while calling the provider: its calls never block
  MembershipProvider* provider_ ABSL_GUARDED_BY(provider_mu_);
  absl::flat_hash_map<std::string, KindEntry> kinds_;  // fixed after Start

  mutable Mutex mu_;
  ClusterMember self_ ABSL_GUARDED_BY(mu_);
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool left_ ABSL_GUARDED_BY(mu_) = false;
  MembershipView view_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Host> hosts_ ABSL_GUARDED_BY(mu_);  // "kind/id"
  std::vector<std::function<void()>> view_watchers_ ABSL_GUARDED_BY(mu_);
  ClusterStats stats_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> routing_epoch_{0};
  std::atomic<uint64_t> sent_local_{0}, sent_remote_{0};
};

// The activation of one identity on its owner: claims it first (single activation), spawns the
// user's actor as its child, hands it every message while this node still serves, and
// passivates it when idle or when the identity moves away. Its Protocol is the kind's.
template <typename P>
class IdentityHost : public Actor<IdentityHost<P>, P> {
 public:
  using SpawnUser = std::function<absl::StatusOr<ActorRef<P>>(ActorContext&, VirtualIdentity)>;
  IdentityHost(std::shared_ptr<ClusterCore> core, VirtualIdentity identity, SpawnUser spawn,
               KindOptions options)
      : core_(std::move(core)),
        identity_(std::move(identity)),
        spawn_(std::move(spawn)),
        options_(options) {}

  void OnStart() override {
    last_used_ = absl::Now();
    ArmIdleCheck();
    if (options_.single_activation) {
      Claim();
    } else {
      Activate();
    }
  }
  void OnStop() override {
    if (options_.single_activation && claimed_) {
      core_->ReleaseKey(ClaimKey());
    }
    FailAll(absl::UnavailableError("the virtual actor was passivated before it could handle this"));
    core_->HostStopped(identity_.kind, identity_.id, this->self().cell());
    core_->Count(&ClusterStats::passivations);
  }

  template <typename T>
  void Handle(T&& message) {
    Deliver([m = std::forward<T>(message)](IdentityHost& h) mutable { h.user_.Tell(std::move(m)); },
            [](const absl::Status&) {});
  }
  template <typename T, typename R>
  void Handle(T&& message, Promise<R> reply) {
    auto promise = std::make_shared<Promise<R>>(std::move(reply));
    Deliver(
        [m = std::forward<T>(message), promise](IdentityHost& h) mutable {
          h.ctx().Ask(h.user_, std::move(m), h.core_->options().ask_timeout,
                      [promise](absl::StatusOr<R> r) {
                        if (r.ok()) {
                          promise->Reply(*std::move(r));
                        } else {
                          promise->Fail(r.status());
                        }
                      });
        },
        [promise](const absl::Status& why) { promise->Fail(why); });
  }

 private:
  using Send = absl::AnyInvocable<void(IdentityHost&)>;
  using Fail = absl::AnyInvocable<void(const absl::Status&)>;
  struct Waiting {
    Send send;
    Fail fail;
  };

  std::string ClaimKey() const { return absl::StrCat(identity_.kind, "/", identity_.id); }

  void Deliver(Send send, Fail fail) {
    if (!core_->Serving()) {  // fenced, or paused past the lease: refuse before handling
      core_->Count(&ClusterStats::refused_fenced);
      fail(absl::UnavailableError("this node is not serving the cluster now (fenced)"));
      this->ctx().Stop();
      return;
    }
    last_used_ = absl::Now();
    if (!user_) {
      if (waiting_.size() >= core_->options().buffer_limit) {
        core_->Count(&ClusterStats::undeliverable);
        fail(absl::UnavailableError("the virtual actor is not active yet and too much waits"));
        return;
      }
      waiting_.push_back({std::move(send), std::move(fail)});
      return;
    }
    send(*this);
  }
  void Claim() {
    troupe::internal::CellRef cell(this->self().cell());
    core_->ClaimKey(ClaimKey(), [cell, this](absl::StatusOr<cluster::Claim> claim) {
      cell->EnqueueClosure([this, claim = std::move(claim)]() mutable { OnClaim(std::move(claim)); });
    });
  }
  void OnClaim(absl::StatusOr<cluster::Claim> claim) {
    if (!claim.ok() || !claim->ours) {
      // Held by someone else (it wins), or the store is unreachable: this node does not activate.
      FailAll(absl::UnavailableError(
          claim.ok() ? absl::StrCat("the virtual actor is active on ", claim->owner)
                     : absl::StrCat("cannot claim the virtual actor: ", claim.status().message())));
      this->ctx().Stop();
      return;
    }
    claimed_ = true;
    identity_.fencing_token = claim->revision;
    Activate();
  }
  void Activate() {
    absl::StatusOr<ActorRef<P>> user = spawn_(this->ctx(), identity_);
    if (!user.ok()) {
      FailAll(user.status());
      this->ctx().Stop();
      return;
    }
    user_ = *user;
    core_->Count(&ClusterStats::activations);
    while (!waiting_.empty()) {
      Waiting w = std::move(waiting_.front());
      waiting_.pop_front();
      w.send(*this);
    }
  }
  void FailAll(const absl::Status& why) {
    while (!waiting_.empty()) {
      core_->Count(&ClusterStats::undeliverable);
      waiting_.front().fail(why);
      waiting_.pop_front();
    }
  }
  void ArmIdleCheck() {
    this->ctx().RunAfter(options_.passivate_after / 2 + absl::Milliseconds(1), [this] {
      if (absl::Now() - last_used_ >= options_.passivate_after && waiting_.empty()) {
        this->ctx().Stop();  // idle: passivate
        return;
      }
      ArmIdleCheck();
    });
  }

  std::shared_ptr<ClusterCore> core_;
  VirtualIdentity identity_;
  SpawnUser spawn_;
  const KindOptions options_;
  ActorRef<P> user_;
  bool claimed_ = false;
  absl::Time last_used_;
  std::deque<Waiting> waiting_;
};

// What Cluster::Get returns: routes each message of one identity to its current owner - the
// local host, or the owner's host through a remote reference - waiting while there is none.
template <typename P>
class VirtualRef : public Actor<VirtualRef<P>, P> {
  static_assert(troupe::internal::AllEntriesAreProto<P>(std::make_index_sequence<P::kSize>()),
                "a virtual actor's Protocol may list Protobuf messages only (they cross nodes)");

 public:
  VirtualRef(std::shared_ptr<ClusterCore> core, std::string kind, std::string id)
      : core_(std::move(core)), kind_(std::move(kind)), id_(std::move(id)) {}

  void OnStart() override {
    troupe::internal::CellRef cell(this->self().cell());
    core_->WatchViews([cell, this] { cell->EnqueueClosure([this] { Flush(); }); });
  }

  template <typename T>
  void Handle(T&& message) {
    Route([m = std::forward<T>(message)](VirtualRef&, const Destination& to) mutable {
      if (to.remote) {
        to.remote->Tell(m);
      } else {
        to.local.Tell(std::move(m));
      }
    },
          [](const absl::Status&) {});
  }
  template <typename T, typename R>
  void Handle(T&& message, Promise<R> reply) {
    auto promise = std::make_shared<Promise<R>>(std::move(reply));
    Route(
        [m = std::forward<T>(message), promise](VirtualRef& v, const Destination& to) mutable {
          if (to.remote) {
            to.remote->Ask(m, std::move(*promise));
            return;
          }
          v.ctx().Ask(to.local, std::move(m), v.core_->options().ask_timeout,
                      [promise](absl::StatusOr<R> r) {
                        if (r.ok()) {
                          promise->Reply(*std::move(r));
                        } else {
                          promise->Fail(r.status());
                        }
                      });
        },
        [promise](const absl::Status& why) { promise->Fail(why); });
  }

 private:
  // Where the owner's host is: a local actor, or a remote one sent to on the owner's link
  // directly (no proxy actor per identity).
  struct Destination {
    uint64_t epoch = 0;
    ActorRef<P> local;
    std::optional<troupe::internal::RemoteTarget> remote;
  };
  using Send = absl::AnyInvocable<void(VirtualRef&, const Destination&)>;
  using Fail = absl::AnyInvocable<void(const absl::Status&)>;
  struct Waiting {
    Send send;
    Fail fail;
    absl::Time deadline;
  };

  // The owner's host (local or remote), or nothing yet. Placement runs once per routing epoch:
  // while no view, fence or local passivation intervenes, the last route is reused.
  const Destination* Target() {
    const uint64_t epoch = core_->routing_epoch();
    // A local route also needs this node to serve still (its lease can lapse before the fence).
    if (route_ && route_->epoch == epoch && (route_->remote || core_->Serving())) {
      core_->CountSent(!route_->remote);
      return &*route_;
    }
    route_.reset();
    std::optional<ClusterMember> owner = core_->OwnerOf(kind_, id_);
    if (!owner) return nullptr;
    Destination to{.epoch = epoch};
    if (core_->IsSelf(*owner)) {
      std::optional<ClusterCore::Host> host = core_->LocalHost(kind_, id_, P::Id());
      if (!host) return nullptr;
      to.local = ActorRef<P>::FromCell(host->cell);
    } else {
      absl::StatusOr<troupe::internal::RemoteTarget> remote = core_->node().Target(
          owner->address, ClusterCore::WireName(kind_, id_), core_->options().ask_timeout);
      if (!remote.ok()) return nullptr;
      to.remote = *std::move(remote);
    }
    route_ = std::move(to);
    core_->CountSent(!route_->remote);
    return &*route_;
  }
  void Route(Send send, Fail fail) {
    if (waiting_.empty()) {
      if (const Destination* to = Target()) {
        send(*this, *to);
        return;
      }
    }
    if (waiting_.size() >= core_->options().buffer_limit) {
      core_->Count(&ClusterStats::undeliverable);
      fail(absl::UnavailableError(absl::StrCat("no owner for ", kind_, "/", id_,
                                               " and too many messages wait for one")));
      return;
    }
    core_->Count(&ClusterStats::buffered);
    waiting_.push_back({std::move(send), std::move(fail), absl::Now() + core_->options().buffer_timeout});
    ArmExpiry();
  }
  void Flush() {
    const absl::Time now = absl::Now();
    while (!waiting_.empty()) {
      if (waiting_.front().deadline <= now) {
        core_->Count(&ClusterStats::undeliverable);
        waiting_.front().fail(absl::UnavailableError(
            absl::StrCat("no owner for ", kind_, "/", id_, " within the buffer timeout")));
        waiting_.pop_front();
        continue;
      }
      const Destination* to = Target();
      if (to == nullptr) break;
      waiting_.front().send(*this, *to);
      waiting_.pop_front();
    }
    if (!waiting_.empty()) ArmExpiry();
  }
  void ArmExpiry() {
    if (expiry_armed_) return;
    expiry_armed_ = true;
    this->ctx().RunAfter(std::max(waiting_.front().deadline - absl::Now(), absl::Milliseconds(1)),
                         [this] {
                           expiry_armed_ = false;
                           Flush();
                         });
  }

  std::shared_ptr<ClusterCore> core_;
  const std::string kind_;
  const std::string id_;
  std::optional<Destination> route_;
  std::deque<Waiting> waiting_;
  bool expiry_armed_ = false;
};

}  // namespace internal

class Cluster {
 public:
  // INVALID_ARGUMENT: no advertise_address.
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(
      ActorSystem& system, RemoteNode& node, std::unique_ptr<MembershipProvider> membership,
      ClusterOptions options);
  ~Cluster();  // leaves if Leave was not called

  // This node hosts kind `name`: actor A, built as A(VirtualIdentity, args...). Before Start.
  template <typename A, typename... Args>
  absl::Status Kind(std::string name, KindOptions options, Args... args) {
    using P = typename A::ActorProtocol;
    if (started_) return absl::FailedPreconditionError("Kind after Start");
    if (name.empty() || name.find('/') != std::string::npos || name[0] == '~') {
      return absl::InvalidArgumentError("a kind is a non-empty name without '/', not starting with '~'");
    }
    if (core_->kind(name) != nullptr) {
      return absl::AlreadyExistsError(absl::StrCat("kind ", name, " is registered"));
    }
    typename internal::IdentityHost<P>::SpawnUser spawn =
        [args...](ActorContext& ctx, VirtualIdentity identity) {
          return ctx.Spawn<A>(std::move(identity), args...);
        };
    core_->AddKind(
        name,
        {options,
         [spawn, options](const std::shared_ptr<internal::ClusterCore>& core,
                          const VirtualIdentity& identity) -> internal::ClusterCore::Host {
           auto host = core->system().template Spawn<internal::IdentityHost<P>>(core, identity,
                                                                               spawn, options);
           if (!host.ok()) return {};
           return {troupe::internal::CellRef(host->cell()),
                   std::make_shared<const troupe::internal::Export>(troupe::internal::Export{
                       troupe::internal::MakeExportTable(core->system(), *host), {}}),
                   P::Id()};
         },
         P::Id()});
    return absl::OkStatus();
  }

  // Joins the cluster (through the membership provider) and starts routing.
  absl::Status Start();
  // The virtual actor (kind, id) as an ordinary reference; the same one for the same arguments.
  template <typename P>
  absl::StatusOr<ActorRef<P>> Get(std::string_view kind, std::string_view id) {
    if (id.empty()) return absl::InvalidArgumentError("an identity needs an id");
    const std::string key = std::string(kind) + "/" + std::string(id);
    MutexLock lock(&mu_);
    auto it = refs_.find(key);
    if (it != refs_.end() && it->second.protocol == P::Id()) {
      return ActorRef<P>::FromCell(it->second.cell);
    }
    auto ref = system_.Spawn<internal::VirtualRef<P>>(core_, std::string(kind), std::string(id));
    if (!ref.ok()) return ref.status();
    refs_[key] = {troupe::internal::CellRef(ref->cell()), P::Id()};
    return *ref;
  }
  // Leaves now: peers see this node gone at once (not after its lease) and its identities
  // move; local activations are passivated.
  void Leave();

  // Names held cluster-wide by one node at a time (a chat nick, a leader role, a lock), kept in
  // the membership store (etcd: a create-if-absent transaction) under this node's lease: at most
  // one holder per name while etcd has quorum. A name goes when its holder releases it, leaves,
  // dies or is fenced; after a fence this node rejoins with a new incarnation() and must claim
  // again what it still needs (another node may have it by then). `done` gets the claim that
  // holds (Claim::ours when it is this node's), UNAVAILABLE without the store; it runs on a
  // thread of the provider's, not the caller's actor: tell the actor from it.
  void ClaimName(std::string name, std::function<void(absl::StatusOr<Claim>)> done) {
    core_->ClaimKey(NameKey(name), std::move(done));
  }
  void ReleaseName(std::string name) { core_->ReleaseKey(NameKey(name)); }
  // The names held now that start with `prefix`, with their holders, sorted.
  void ReadNames(std::string prefix,
                 std::function<void(absl::StatusOr<MembershipProvider::ClaimList>)> done) {
    core_->ReadClaims(NameKey(prefix), [done = std::move(done)](
                                           absl::StatusOr<MembershipProvider::ClaimList> claims) {
      if (claims.ok()) {
        for (auto& [key, claim] : *claims) key.erase(0, NameKey("").size());
      }
      done(std::move(claims));
    });
  }
  // The ids of `kind`'s single-activation identities active now (those holding a claim), sorted.
  void ReadActivations(std::string kind,
                       std::function<void(absl::StatusOr<std::vector<std::string>>)> done) {
    const size_t skip = kind.size() + 1;
    core_->ReadClaims(kind + "/", [done = std::move(done), skip](
                                      absl::StatusOr<MembershipProvider::ClaimList> claims) {
      if (!claims.ok()) {
        done(claims.status());
        return;
      }
      std::vector<std::string> ids;
      for (const auto& [key, claim] : *claims) ids.push_back(key.substr(skip));
      done(std::move(ids));
    });
  }
  // This node's membership incarnation while joined (new at every join: a change means this
  // node was fenced and joined again), 0 when not joined.
  uint64_t incarnation() const { return core_->incarnation(); }

  MembershipView view() const { return core_->view(); }
  ClusterStats stats() const { return core_->stats(); }
  std::shared_ptr<const LeaseGuard> lease() const { return membership_->lease(); }

 private:
  Cluster(ActorSystem& system, std::unique_ptr<MembershipProvider> membership,
          std::shared_ptr<internal::ClusterCore> core)
      : system_(system), membership_(std::move(membership)), core_(std::move(core)) {}
  struct Ref {
    troupe::internal::CellRef cell;
    const void* protocol;
  };
  static std::string NameKey(std::string_view name) { return "~name/" + std::string(name); }
  ActorSystem& system_;
  std::unique_ptr<MembershipProvider> membership_;
  std::shared_ptr<internal::ClusterCore> core_;
  bool started_ = false;
  bool left_ = false;
  Mutex mu_;
  absl::flat_hash_map<std::string, Ref> refs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_CLUSTER_H_
