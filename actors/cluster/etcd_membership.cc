#include "actors/cluster/etcd_membership.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/cluster.pb.h"
#include "framework/log/log.h"

namespace troupe::cluster {
namespace {

// A closure run on the agent's turn (the facade's commands and the etcd calls' results).
struct AgentCall {
  absl::AnyInvocable<void(EtcdMembership::Agent&)> fn;
};
struct Tick {};
using AgentProtocol = Protocol<AgentCall, Tick>;

ClusterMember FromRecord(const MemberRecord& r) {
  ClusterMember m{r.name(), r.address(), r.incarnation(), {}};
  for (const std::string& k : r.kinds()) m.kinds.push_back(k);
  return m;
}

}  // namespace

class EtcdMembership::Agent : public Actor<Agent, AgentProtocol> {
 public:
  Agent(EtcdClient* client, std::shared_ptr<LeaseGuard> guard, EtcdMembershipOptions options)
      : client_(client),
        guard_(std::move(guard)),
        options_(std::move(options)),
        prefix_(absl::StrCat("/troupe/", options_.cluster, "/")),
        members_prefix_(prefix_ + "members/") {}

  void OnStart() override {
    tick_ = ctx().SendPeriodically(KeepAliveInterval(), self(), Tick{});
  }
  void OnStop() override {
    if (watch_) watch_->Cancel();
    guard_->Invalidate();
  }

  void Handle(AgentCall call) { call.fn(*this); }

  void Handle(Tick) {
    if (state_ == State::kJoined) {
      if (!guard_->Valid()) {
        Fence(absl::UnavailableError(absl::StrCat(
            "the membership lease could not be renewed for ",
            absl::FormatDuration(absl::Now() - last_renewal_), " (etcd unreachable or paused)")));
        return;
      }
      KeepAlive();
    } else if (state_ == State::kWaitingToJoin) {
      Join();
    }
  }

  // ---- the facade's commands ----
  void Start(ClusterMember self_member, std::shared_ptr<MembershipListener> listener) {
    self_ = std::move(self_member);
    listener_ = std::move(listener);
    Join();
  }
  void Leave(std::function<void(absl::Status)> done) {
    const int64_t lease = lease_;
    state_ = State::kLeft;
    guard_->Invalidate();
    if (watch_) watch_->Cancel();
    watch_.reset();
    if (lease == 0) {
      done(absl::OkStatus());
      return;
    }
    client_->LeaseRevoke(lease, options_.call_timeout,
                         [done = std::move(done)](auto r) { done(r.status()); });
  }
  void Claim(std::string key, std::function<void(absl::StatusOr<cluster::Claim>)> done) {
    if (state_ != State::kJoined || !guard_->Valid()) {
      done(absl::UnavailableError("not a member now: no claim"));
      return;
    }
    const std::string full = prefix_ + "claims/" + key;
    ClaimRecord record;
    record.set_owner(self_.name);
    record.set_owner_incarnation(self_.incarnation);
    etcdserverpb::TxnRequest txn;
    auto* cmp = txn.add_compare();
    cmp->set_key(full);
    cmp->set_target(etcdserverpb::Compare::CREATE);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_create_revision(0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(full);
    put->set_value(record.SerializeAsString());
    put->set_lease(lease_);
    txn.add_failure()->mutable_request_range()->set_key(full);
    const std::string me = self_.name;
    const uint64_t incarnation = self_.incarnation;
    client_->Txn(txn, options_.call_timeout,
                 [done = std::move(done), me, incarnation](absl::StatusOr<etcdserverpb::TxnResponse> r) {
                   if (!r.ok()) {
                     done(absl::UnavailableError(absl::StrCat("claim: ", r.status().message())));
                     return;
                   }
                   if (r->succeeded()) {
                     done(cluster::Claim{me, incarnation, r->header().revision(), true});
                     return;
                   }
                   const auto& range = r->responses(0).response_range();
                   ClaimRecord held;
                   if (range.kvs_size() == 0 || !held.ParseFromString(range.kvs(0).value())) {
                     done(absl::UnavailableError("claim: raced with a release, try again"));
                     return;
                   }
                   done(cluster::Claim{held.owner(), held.owner_incarnation(),
                                       range.kvs(0).create_revision(),
                                       held.owner() == me && held.owner_incarnation() == incarnation});
                 });
  }
  void Release(std::string key) {
    if (lease_ == 0) return;
    // Only our own claim: the key must still be under our lease.
    etcdserverpb::TxnRequest txn;
    const std::string full = prefix_ + "claims/" + key;
    auto* cmp = txn.add_compare();
    cmp->set_key(full);
    cmp->set_target(etcdserverpb::Compare::LEASE);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_lease(lease_);
    txn.add_success()->mutable_request_delete_range()->set_key(full);
    client_->Txn(txn, options_.call_timeout, [](auto) {});
  }
  void ReadClaims(std::string prefix, std::function<void(absl::StatusOr<ClaimList>)> done) {
    const std::string claims = prefix_ + "claims/";
    etcdserverpb::RangeRequest range;
    range.set_key(claims + prefix);
    range.set_range_end(PrefixEnd(claims + prefix));
    // etcd answers a range in key order.
    client_->Range(range, options_.call_timeout,
                   [done = std::move(done), claims, me = self_.name,
                    incarnation = self_.incarnation](absl::StatusOr<etcdserverpb::RangeResponse> r) {
                     if (!r.ok()) {
                       done(absl::UnavailableError(absl::StrCat("claims: ", r.status().message())));
                       return;
                     }
                     ClaimList list;
                     for (const auto& kv : r->kvs()) {
                       ClaimRecord held;
                       if (!held.ParseFromString(kv.value())) continue;  // not ours to read
                       list.emplace_back(kv.key().substr(claims.size()),
                                         cluster::Claim{held.owner(), held.owner_incarnation(),
                                                        kv.create_revision(),
                                                        held.owner() == me &&
                                                            held.owner_incarnation() == incarnation});
                     }
                     done(std::move(list));
                   });
  }
  void RestartWatch(int64_t revision) {
    if (state_ != State::kJoined) return;
    StartWatch(revision);
  }
  EtcdMembershipStats stats() const { return stats_; }

 private:
  enum class State { kIdle, kJoining, kJoined, kWaitingToJoin, kLeft };

  absl::Duration KeepAliveInterval() const { return options_.ttl / 3; }
  // Runs `fn(result)` on this actor once an etcd call answers (on a gRPC thread).
  template <typename Resp, typename F>
  EtcdClient::Done<Resp> Back(F fn) {
    return [me = self(), generation = generation_, fn = std::move(fn)](
               absl::StatusOr<Resp> r) mutable {
      me.Tell(AgentCall{[generation, fn = std::move(fn), r = std::move(r)](Agent& a) mutable {
        if (generation == a.generation_) fn(a, std::move(r));  // not from before a re-join
      }});
    };
  }

  void Join() {
    state_ = State::kJoining;
    ++generation_;
    self_.incarnation = absl::Uniform<uint64_t>(bitgen_, 1, UINT64_MAX);
    const absl::Time sent = absl::Now();
    client_->LeaseGrant(
        std::max<int64_t>(2, absl::ToInt64Seconds(options_.ttl)), options_.call_timeout,
        Back<etcdserverpb::LeaseGrantResponse>(
            [sent](Agent& a, absl::StatusOr<etcdserverpb::LeaseGrantResponse> r) {
              if (!r.ok() || r->id() == 0) return a.RetryJoin(r.status());
              a.lease_ = r->id();
              a.Renewed(sent);
              a.PutSelf();
            }));
  }
  void RetryJoin(const absl::Status& why) {
    if (state_ == State::kLeft) return;
    if (state_ != State::kWaitingToJoin) {
      Log(absl::LogSeverity::kWarning, "cluster: joining through etcd failed, retrying", {{"why", why.ToString()}});
    }
    state_ = State::kWaitingToJoin;  // the next Tick tries again
  }
  void PutSelf() {
    MemberRecord record;
    record.set_name(self_.name);
    record.set_address(self_.address);
    record.set_incarnation(self_.incarnation);
    for (const std::string& k : self_.kinds) record.add_kinds(k);
    etcdserverpb::PutRequest put;
    put.set_key(members_prefix_ + self_.name);
    put.set_value(record.SerializeAsString());
    put.set_lease(lease_);
    client_->Put(put, options_.call_timeout,
                 Back<etcdserverpb::PutResponse>(
                     [](Agent& a, absl::StatusOr<etcdserverpb::PutResponse> r) {
                       if (!r.ok()) return a.RetryJoin(r.status());
                       a.ReadMembers(/*joining=*/true);
                     }));
  }
  // Step 1 and 4: read the prefix, publish the view, watch from its revision + 1.
  void ReadMembers(bool joining) {
    etcdserverpb::RangeRequest range;
    range.set_key(members_prefix_);
    range.set_range_end(PrefixEnd(members_prefix_));
    client_->Range(range, options_.call_timeout,
                   Back<etcdserverpb::RangeResponse>(
                       [joining](Agent& a, absl::StatusOr<etcdserverpb::RangeResponse> r) {
                         if (!r.ok()) {
                           if (joining) return a.RetryJoin(r.status());
                           a.read_pending_ = true;  // the next keep-alive tick reads again
                           return;
                         }
                         a.members_.clear();
                         for (const auto& kv : r->kvs()) {
                           MemberRecord record;
                           if (record.ParseFromString(kv.value())) {
                             a.members_[kv.key()] = FromRecord(record);
                           }
                         }
                         if (joining) {
                           a.state_ = State::kJoined;
                           ++a.stats_.joins;
                           a.listener_->OnJoined(a.self_);
                         }
                         a.PublishView(r->header().revision());
                         a.StartWatch(r->header().revision() + 1);
                       }));
  }
  void StartWatch(int64_t from) {
    if (watch_) watch_->Cancel();
    const uint64_t watch_generation = ++watch_generation_;
    etcdserverpb::WatchCreateRequest request;
    request.set_key(members_prefix_);
    request.set_range_end(PrefixEnd(members_prefix_));
    request.set_start_revision(from);
    auto me = self();
    const uint64_t generation = generation_;
    watch_ = client_->StartWatch(
        request,
        [me, generation, watch_generation](const etcdserverpb::WatchResponse& response) {
          me.Tell(AgentCall{[generation, watch_generation, response](Agent& a) {
            if (generation == a.generation_ && watch_generation == a.watch_generation_) {
              a.OnEvents(response);
            }
          }});
        },
        [me, generation, watch_generation](absl::Status why) {
          me.Tell(AgentCall{[generation, watch_generation, why](Agent& a) {
            if (generation == a.generation_ && watch_generation == a.watch_generation_) {
              a.OnWatchEnded(why);
            }
          }});
        });
  }
  void OnEvents(const etcdserverpb::WatchResponse& response) {
    if (state_ != State::kJoined || response.events_size() == 0) return;
    bool self_gone = false;
    for (const etcdserverpb::Event& e : response.events()) {
      if (e.type() == etcdserverpb::Event::DELETE) {
        members_.erase(e.kv().key());
        self_gone = self_gone || e.kv().key() == members_prefix_ + self_.name;
      } else {
        MemberRecord record;
        if (record.ParseFromString(e.kv().value())) members_[e.kv().key()] = FromRecord(record);
      }
    }
    if (self_gone) {
      Fence(absl::UnavailableError("etcd dropped this member (its lease expired)"));
      return;
    }
    PublishView(response.header().revision());
  }
  void OnWatchEnded(const absl::Status& why) {
    if (state_ != State::kJoined || why.ok()) return;
    ++stats_.watch_restarts;
    watch_.reset();
    ReadMembers(/*joining=*/false);  // step 4
  }
  void KeepAlive() {
    if (keepalive_pending_) return;
    if (read_pending_) {
      read_pending_ = false;
      ReadMembers(false);
    }
    keepalive_pending_ = true;
    const absl::Time sent = absl::Now();
    client_->LeaseKeepAlive(
        lease_, KeepAliveInterval(),
        Back<etcdserverpb::LeaseKeepAliveResponse>(
            [sent](Agent& a, absl::StatusOr<etcdserverpb::LeaseKeepAliveResponse> r) {
              a.keepalive_pending_ = false;
              if (a.state_ != State::kJoined) return;
              if (!r.ok()) {
                ++a.stats_.keepalive_failures;
                return;  // the guard decides, at the next tick
              }
              if (r->ttl() <= 0) {
                a.Fence(absl::UnavailableError("etcd says the membership lease expired"));
                return;
              }
              ++a.stats_.keepalives;
              a.Renewed(sent);
            }));
  }
  void Renewed(absl::Time sent) {
    last_renewal_ = sent;
    const absl::Time until = sent + options_.ttl - options_.ttl / 5;
    guard_->ExtendTo(until);
    // Check again the moment the guard runs out, not at the next periodic tick.
    expiry_check_.Cancel();
    expiry_check_ = ctx().SendAfter(until - absl::Now() + absl::Milliseconds(1), self(), Tick{});
  }
  void Fence(const absl::Status& why) {
    ++stats_.fences;
    guard_->Invalidate();
    state_ = State::kWaitingToJoin;
    if (watch_) watch_->Cancel();
    watch_.reset();
    const int64_t old_lease = std::exchange(lease_, 0);
    ++generation_;  // answers to calls made before are dropped
    Log(absl::LogSeverity::kWarning, "cluster: fenced", {{"node", self_.name}, {"why", why.ToString()}});
    listener_->OnFenced(why);
    if (old_lease != 0) client_->LeaseRevoke(old_lease, options_.call_timeout, [](auto) {});
  }
  void PublishView(int64_t revision) {
    MembershipView view;
    view.revision = revision;
    for (const auto& [key, member] : members_) view.members.push_back(member);
    std::sort(view.members.begin(), view.members.end(),
              [](const ClusterMember& a, const ClusterMember& b) { return a.name < b.name; });
    listener_->OnView(view);
  }

  EtcdClient* const client_;
  const std::shared_ptr<LeaseGuard> guard_;
  const EtcdMembershipOptions options_;
  const std::string prefix_;
  const std::string members_prefix_;
  absl::BitGen bitgen_;
  TimerHandle tick_;
  TimerHandle expiry_check_;
  State state_ = State::kIdle;
  uint64_t generation_ = 0;        // one per join attempt: late answers of an older one drop
  uint64_t watch_generation_ = 0;  // one per watch
  ClusterMember self_;
  std::shared_ptr<MembershipListener> listener_;
  int64_t lease_ = 0;
  absl::Time last_renewal_;
  bool keepalive_pending_ = false;
  bool read_pending_ = false;
  std::shared_ptr<EtcdClient::Watch> watch_;
  absl::flat_hash_map<std::string, ClusterMember> members_;  // by key
  EtcdMembershipStats stats_;
};

absl::StatusOr<std::unique_ptr<EtcdMembership>> EtcdMembership::Create(
    ActorSystem& system, EtcdMembershipOptions options) {
  if (options.ttl < absl::Seconds(2)) {
    return absl::InvalidArgumentError("etcd membership: the lease TTL must be at least 2 s");
  }
  auto client = EtcdClient::Create(options.etcd);
  if (!client.ok()) return client.status();
  std::unique_ptr<EtcdMembership> m(new EtcdMembership());
  m->client_ = *std::move(client);
  auto agent = system.Spawn<Agent>(m->client_.get(), m->guard_, std::move(options));
  if (!agent.ok()) return agent.status();
  ActorRef<AgentProtocol> ref = *agent;
  m->call_ = [ref](absl::AnyInvocable<void(Agent&)> fn) {
    return ref.Tell(AgentCall{std::move(fn)});
  };
  m->stop_agent_ = [ref, &system] {
    ref.Stop();
    system.scheduler().RunUntil([&] { return ref.stopped(); });
  };
  return m;
}

EtcdMembership::~EtcdMembership() {
  guard_->Invalidate();
  if (stop_agent_) stop_agent_();
  client_.reset();  // waits for the calls in flight
}

bool EtcdMembership::Call(absl::AnyInvocable<void(Agent&)> fn) {
  return call_ && call_(std::move(fn));
}

void EtcdMembership::Start(ClusterMember self, std::shared_ptr<MembershipListener> listener) {
  Call([self = std::move(self), listener = std::move(listener)](Agent& a) mutable {
    a.Start(std::move(self), std::move(listener));
  });
}

void EtcdMembership::Leave(std::function<void(absl::Status)> done) {
  if (!Call([done](Agent& a) mutable { a.Leave(std::move(done)); })) {
    done(absl::FailedPreconditionError("the membership agent has stopped"));
  }
}

void EtcdMembership::ClaimKey(std::string key, std::function<void(absl::StatusOr<Claim>)> done) {
  if (!Call([key = std::move(key), done](Agent& a) mutable { a.Claim(std::move(key), done); })) {
    done(absl::UnavailableError("the membership agent has stopped"));
  }
}

void EtcdMembership::ReleaseKey(std::string key) {
  Call([key = std::move(key)](Agent& a) mutable { a.Release(std::move(key)); });
}

void EtcdMembership::ReadClaims(std::string prefix,
                                std::function<void(absl::StatusOr<ClaimList>)> done) {
  if (!Call([prefix = std::move(prefix), done](Agent& a) mutable {
        a.ReadClaims(std::move(prefix), std::move(done));
      })) {
    done(absl::UnavailableError("the membership agent has stopped"));
  }
}

EtcdMembershipStats EtcdMembership::stats() const {
  // Read on the agent would need a round trip; the agent's counters are only written there,
  // so a snapshot is taken through a call and a future.
  auto done = std::make_shared<std::promise<EtcdMembershipStats>>();
  auto future = done->get_future();
  if (!const_cast<EtcdMembership*>(this)->Call([done](Agent& a) { done->set_value(a.stats()); })) {
    return {};
  }
  return future.get();
}

void EtcdMembership::RestartWatchForTest(int64_t revision) {
  Call([revision](Agent& a) { a.RestartWatch(revision); });
}

}  // namespace troupe::cluster
