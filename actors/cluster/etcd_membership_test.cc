// EtcdMembership against a real etcd: members find each other, a graceful leave is seen at
// once, a crashed member is dropped after its lease, a member that loses etcd fences itself
// before its lease could run out and rejoins with a new incarnation, a watch restarted on a
// compacted revision recovers without losing a change, and single-activation claims (the
// first wins; the claim goes with its holder's lease; the fencing token grows).
#include "actors/cluster/etcd_membership.h"

#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "actors/cluster/testing/etcd_process.h"
#include "framework/base/mutex.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe::cluster {
namespace {

using ::troupe::cluster::testing::EtcdCluster;
using ::troupe::testing::IsOk;
using ::troupe::testing::WaitFor;

// Records what a member was told.
class Recorder final : public MembershipListener {
 public:
  void OnJoined(const ClusterMember& self) override {
    MutexLock lock(&mu_);
    incarnations_.push_back(self.incarnation);
  }
  void OnView(const MembershipView& view) override {
    MutexLock lock(&mu_);
    names_.clear();
    for (const ClusterMember& m : view.members) names_.push_back(m.name);
    last_revision_ = view.revision;
  }
  void OnFenced(const absl::Status& why) override {
    MutexLock lock(&mu_);
    fenced_at_.push_back(absl::Now());
    last_fence_ = why;
  }
  std::vector<std::string> names() {
    MutexLock lock(&mu_);
    return names_;
  }
  std::vector<uint64_t> incarnations() {
    MutexLock lock(&mu_);
    return incarnations_;
  }
  std::vector<absl::Time> fenced_at() {
    MutexLock lock(&mu_);
    return fenced_at_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> incarnations_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> fenced_at_ ABSL_GUARDED_BY(mu_);
  absl::Status last_fence_ ABSL_GUARDED_BY(mu_);
  int64_t last_revision_ ABSL_GUARDED_BY(mu_) = 0;
};

class EtcdMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = EtcdCluster::Start(1);
    ASSERT_THAT(etcd, IsOk());
    etcd_ = *std::move(etcd);
  }
  // Joins member `name`; its recorder is recorders_[name].
  EtcdMembership* Join(const std::string& name) {
    auto m = EtcdMembership::Create(
        system_, {.etcd = {.endpoints = etcd_->endpoints()}, .ttl = absl::Seconds(2),
                  .call_timeout = absl::Milliseconds(500)});
    EXPECT_THAT(m, IsOk());
    auto recorder = std::make_shared<Recorder>();
    recorders_[name] = recorder;
    (*m)->Start({.name = name, .address = "127.0.0.1:1", .kinds = {"room"}}, recorder);
    members_[name] = *std::move(m);
    return members_[name].get();
  }
  bool Sees(const std::string& who, std::vector<std::string> names) {
    return WaitFor([&] { return recorders_[who]->names() == names; }, absl::Seconds(15));
  }
  absl::StatusOr<Claim> ClaimOn(const std::string& who, const std::string& key) {
    std::promise<absl::StatusOr<Claim>> done;
    members_[who]->ClaimKey(key, [&](absl::StatusOr<Claim> c) { done.set_value(std::move(c)); });
    return done.get_future().get();
  }

  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::unique_ptr<EtcdCluster> etcd_;
  std::map<std::string, std::unique_ptr<EtcdMembership>> members_;
  std::map<std::string, std::shared_ptr<Recorder>> recorders_;
};

TEST_F(EtcdMembershipTest, MembersFindEachOtherAndALeaveIsSeenAtOnce) {
  Join("a");
  Join("b");
  Join("c");
  for (const char* who : {"a", "b", "c"}) EXPECT_TRUE(Sees(who, {"a", "b", "c"})) << who;
  EXPECT_NE(recorders_["a"]->incarnations().at(0), recorders_["b"]->incarnations().at(0));
  std::promise<absl::Status> left;
  const absl::Time start = absl::Now();
  members_["c"]->Leave([&](absl::Status s) { left.set_value(s); });
  EXPECT_THAT(left.get_future().get(), IsOk());
  EXPECT_TRUE(Sees("a", {"a", "b"}));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // not after the 2 s lease: at once
}

TEST_F(EtcdMembershipTest, ACrashedMemberIsDroppedAfterItsLease) {
  Join("a");
  Join("b");
  ASSERT_TRUE(Sees("a", {"a", "b"}));
  const absl::Time start = absl::Now();
  members_.erase("b");  // gone without leaving: its keep-alives stop, its lease runs out
  EXPECT_TRUE(Sees("a", {"a"}));
  EXPECT_GT(absl::Now() - start, absl::Seconds(1));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST_F(EtcdMembershipTest, LosingEtcdFencesBeforeTheLeaseCouldRunOutThenRejoins) {
  EtcdMembership* a = Join("a");
  ASSERT_TRUE(Sees("a", {"a"}));
  ASSERT_TRUE(a->lease()->Valid());
  etcd_->Pause(0);  // etcd stops answering: no renewal gets through
  const absl::Time paused = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return !recorders_["a"]->fenced_at().empty(); }, absl::Seconds(10)));
  // Fenced, and the guard invalid, before the 2 s lease could expire on etcd's side.
  EXPECT_LT(recorders_["a"]->fenced_at()[0] - paused, absl::Seconds(2));
  EXPECT_FALSE(a->lease()->Valid());
  etcd_->Continue(0);
  ASSERT_TRUE(WaitFor([&] { return recorders_["a"]->incarnations().size() == 2; },
                      absl::Seconds(15)));
  EXPECT_NE(recorders_["a"]->incarnations()[0], recorders_["a"]->incarnations()[1]);
  EXPECT_TRUE(a->lease()->Valid());
  EXPECT_TRUE(Sees("a", {"a"}));
}

TEST_F(EtcdMembershipTest, AWatchRestartedOnACompactedRevisionRecovers) {
  EtcdMembership* a = Join("a");
  ASSERT_TRUE(Sees("a", {"a"}));
  auto client = EtcdClient::Create({.endpoints = etcd_->endpoints()});
  ASSERT_THAT(client, IsOk());
  std::promise<int64_t> revision;
  etcdserverpb::PutRequest put;
  put.set_key("/unrelated");
  put.set_value("x");
  (*client)->Put(put, absl::Seconds(2), [&](auto r) { revision.set_value(r->header().revision()); });
  const int64_t now = revision.get_future().get();
  std::promise<absl::Status> compacted;
  (*client)->Compact(now, absl::Seconds(2), [&](auto r) { compacted.set_value(r.status()); });
  ASSERT_THAT(compacted.get_future().get(), IsOk());
  a->RestartWatchForTest(1);  // long compacted away: etcd cancels it
  ASSERT_TRUE(WaitFor([&] { return a->stats().watch_restarts >= 1; }));
  Join("b");  // a change after the recovery is seen: a watches again
  EXPECT_TRUE(Sees("a", {"a", "b"}));
}

TEST_F(EtcdMembershipTest, TheFirstClaimWinsAndGoesWithItsHoldersLease) {
  Join("a");
  Join("b");
  ASSERT_TRUE(Sees("a", {"a", "b"}));
  ASSERT_TRUE(Sees("b", {"a", "b"}));
  auto first = ClaimOn("a", "room/x");
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->ours);
  auto second = ClaimOn("b", "room/x");
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->ours);
  EXPECT_EQ(second->owner, "a");
  EXPECT_EQ(second->revision, first->revision);
  std::promise<absl::Status> left;
  members_["a"]->Leave([&](absl::Status s) { left.set_value(s); });
  ASSERT_THAT(left.get_future().get(), IsOk());
  auto third = ClaimOn("b", "room/x");  // a's lease took its claim with it
  ASSERT_THAT(third, IsOk());
  EXPECT_TRUE(third->ours);
  EXPECT_GT(third->revision, first->revision);  // the fencing token only grows
}

TEST_F(EtcdMembershipTest, ClaimsAreReadByPrefixWithTheirHolders) {
  Join("a");
  Join("b");
  ASSERT_TRUE(Sees("a", {"a", "b"}));
  ASSERT_THAT(ClaimOn("a", "room/x"), IsOk());
  ASSERT_THAT(ClaimOn("b", "room/y"), IsOk());
  ASSERT_THAT(ClaimOn("b", "roomy/z"), IsOk());  // shares the prefix "room" but not "room/"
  std::promise<absl::StatusOr<MembershipProvider::ClaimList>> read;
  members_["a"]->ReadClaims("room/", [&](auto r) { read.set_value(std::move(r)); });
  absl::StatusOr<MembershipProvider::ClaimList> claims = read.get_future().get();
  ASSERT_THAT(claims, IsOk());
  ASSERT_EQ(claims->size(), 2u);
  EXPECT_EQ((*claims)[0].first, "room/x");
  EXPECT_EQ((*claims)[0].second.owner, "a");
  EXPECT_TRUE((*claims)[0].second.ours);
  EXPECT_EQ((*claims)[1].first, "room/y");
  EXPECT_EQ((*claims)[1].second.owner, "b");
  EXPECT_FALSE((*claims)[1].second.ours);
  // Released, a claim is no longer read.
  members_["b"]->ReleaseKey("room/y");
  EXPECT_TRUE(WaitFor([&] {
    std::promise<size_t> n;
    members_["a"]->ReadClaims("room/", [&](auto r) { n.set_value(r.ok() ? r->size() : 99); });
    return n.get_future().get() == 1;
  }));
}

}  // namespace
}  // namespace troupe::cluster
