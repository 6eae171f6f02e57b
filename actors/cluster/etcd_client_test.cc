// EtcdClient against a real etcd (Debian's etcd-server, started by the test on loopback): reads
// and writes, a create-if-absent transaction, leases that expire and are revoked with their
// keys, watches in order, a watch on a compacted revision ending with OUT_OF_RANGE, and a
// three-member etcd that refuses writes without quorum and recovers when a member returns, and an
// etcd serving mutual TLS: reached with a certificate its CA admits, refused without one.
#include "actors/cluster/etcd_client.h"

#include <future>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "actors/cluster/testing/etcd_process.h"
#include "actors/tls/testing/test_pki.h"
#include "framework/base/mutex.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe::cluster {
namespace {

using ::troupe::cluster::testing::EtcdCluster;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestPki;
using ::troupe::testing::WaitFor;

// Runs one asynchronous call and waits for its result.
template <typename Resp, typename F>
absl::StatusOr<Resp> Sync(F start) {
  std::promise<absl::StatusOr<Resp>> done;
  start([&](absl::StatusOr<Resp> r) { done.set_value(std::move(r)); });
  return done.get_future().get();
}

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = EtcdCluster::Start(1);
    ASSERT_THAT(etcd, IsOk());
    etcd_ = *std::move(etcd);
    auto client = EtcdClient::Create({.endpoints = etcd_->endpoints()});
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }
  absl::StatusOr<etcdserverpb::PutResponse> Put(const std::string& key, const std::string& value,
                                                int64_t lease = 0) {
    etcdserverpb::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    request.set_lease(lease);
    return Sync<etcdserverpb::PutResponse>(
        [&](auto done) { client_->Put(request, absl::Seconds(5), done); });
  }
  absl::StatusOr<etcdserverpb::RangeResponse> Get(const std::string& key, bool prefix = false) {
    etcdserverpb::RangeRequest request;
    request.set_key(key);
    if (prefix) request.set_range_end(PrefixEnd(key));
    return Sync<etcdserverpb::RangeResponse>(
        [&](auto done) { client_->Range(request, absl::Seconds(5), done); });
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutsAndReadsByKeyAndPrefix) {
  ASSERT_THAT(Put("/t/a", "1"), IsOk());
  ASSERT_THAT(Put("/t/b", "2"), IsOk());
  ASSERT_THAT(Put("/u/c", "3"), IsOk());
  auto one = Get("/t/a");
  ASSERT_THAT(one, IsOk());
  ASSERT_EQ(one->kvs_size(), 1);
  EXPECT_EQ(one->kvs(0).value(), "1");
  auto all = Get("/t/", /*prefix=*/true);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->kvs_size(), 2);
  EXPECT_EQ(all->kvs(1).key(), "/t/b");
  EXPECT_GT(all->header().revision(), 0);
}

TEST_F(EtcdClientTest, ATransactionCreatesAKeyOnlyIfAbsent) {
  auto claim = [&](const std::string& who) {
    etcdserverpb::TxnRequest txn;
    auto* cmp = txn.add_compare();
    cmp->set_key("/claim");
    cmp->set_target(etcdserverpb::Compare::CREATE);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_create_revision(0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key("/claim");
    put->set_value(who);
    txn.add_failure()->mutable_request_range()->set_key("/claim");
    return Sync<etcdserverpb::TxnResponse>(
        [&](auto done) { client_->Txn(txn, absl::Seconds(5), done); });
  };
  auto first = claim("a");
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->succeeded());
  auto second = claim("b");
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(second->succeeded());
  ASSERT_EQ(second->responses(0).response_range().kvs_size(), 1);
  EXPECT_EQ(second->responses(0).response_range().kvs(0).value(), "a");
}

TEST_F(EtcdClientTest, AKeyUnderALeaseGoesWithItsLease) {
  auto lease = Sync<etcdserverpb::LeaseGrantResponse>(
      [&](auto done) { client_->LeaseGrant(2, absl::Seconds(5), done); });
  ASSERT_THAT(lease, IsOk());
  ASSERT_THAT(Put("/leased", "x", lease->id()), IsOk());
  // Kept alive past its TTL, the key stays.
  for (int i = 0; i < 4; ++i) {
    auto kept = Sync<etcdserverpb::LeaseKeepAliveResponse>(
        [&](auto done) { client_->LeaseKeepAlive(lease->id(), absl::Seconds(2), done); });
    ASSERT_THAT(kept, IsOk());
    EXPECT_GT(kept->ttl(), 0);
    // Real time: the etcd server counts the lease's 2 s TTL down on its own clock.
    absl::SleepFor(absl::Milliseconds(700));
  }
  EXPECT_EQ(Get("/leased")->kvs_size(), 1);
  // Not kept alive, it expires and the key with it.
  EXPECT_TRUE(WaitFor([&] { return Get("/leased")->kvs_size() == 0; }, absl::Seconds(10)));
  auto gone = Sync<etcdserverpb::LeaseKeepAliveResponse>(
      [&](auto done) { client_->LeaseKeepAlive(lease->id(), absl::Seconds(2), done); });
  ASSERT_THAT(gone, IsOk());
  EXPECT_EQ(gone->ttl(), 0);
  // A revoked lease takes its keys at once.
  auto second = Sync<etcdserverpb::LeaseGrantResponse>(
      [&](auto done) { client_->LeaseGrant(60, absl::Seconds(5), done); });
  ASSERT_THAT(Put("/revoked", "y", second->id()), IsOk());
  ASSERT_THAT(Sync<etcdserverpb::LeaseRevokeResponse>(
                  [&](auto done) { client_->LeaseRevoke(second->id(), absl::Seconds(5), done); }),
              IsOk());
  EXPECT_EQ(Get("/revoked")->kvs_size(), 0);
}

TEST_F(EtcdClientTest, AWatchSeesEveryChangeInOrderAndACompactedStartEnds) {
  auto start = Put("/w/start", "0");
  ASSERT_THAT(start, IsOk());
  Mutex mu;
  std::vector<std::string> seen;
  std::promise<absl::Status> ended;
  etcdserverpb::WatchCreateRequest request;
  request.set_key("/w/");
  request.set_range_end(PrefixEnd("/w/"));
  request.set_start_revision(start->header().revision() + 1);
  auto watch = client_->StartWatch(
      request,
      [&](const etcdserverpb::WatchResponse& r) {
        MutexLock lock(&mu);
        for (const auto& e : r.events()) {
          seen.push_back((e.type() == etcdserverpb::Event::PUT ? "put " : "delete ") + e.kv().key());
        }
      },
      [&](absl::Status why) { ended.set_value(why); });
  for (int i = 0; i < 20; ++i) ASSERT_THAT(Put("/w/" + std::to_string(i), "v"), IsOk());
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("/w/3");
  ASSERT_THAT(Sync<etcdserverpb::DeleteRangeResponse>(
                  [&](auto done) { client_->DeleteRange(del, absl::Seconds(5), done); }),
              IsOk());
  ASSERT_TRUE(WaitFor([&] {
    MutexLock lock(&mu);
    return seen.size() == 21;
  }));
  {
    MutexLock lock(&mu);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(seen[i], "put /w/" + std::to_string(i));
    EXPECT_EQ(seen[20], "delete /w/3");
  }
  watch->Cancel();
  EXPECT_THAT(ended.get_future().get(), IsOk());
  // Compact past the start revision: a watch from there is refused with OUT_OF_RANGE.
  auto now = Put("/w/last", "v");
  ASSERT_THAT(Sync<etcdserverpb::CompactionResponse>([&](auto done) {
                client_->Compact(now->header().revision(), absl::Seconds(5), done);
              }),
              IsOk());
  std::promise<absl::Status> compacted;
  auto late = client_->StartWatch(
      request, [](const etcdserverpb::WatchResponse&) {},
      [&](absl::Status why) { compacted.set_value(why); });
  auto future = compacted.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get().code(), absl::StatusCode::kOutOfRange);
}

TEST(EtcdQuorumTest, WritesFailWithoutQuorumAndWorkAgainWhenItReturns) {
  auto etcd = EtcdCluster::Start(3);
  ASSERT_THAT(etcd, IsOk());
  auto client = EtcdClient::Create({.endpoints = (*etcd)->endpoints()});
  ASSERT_THAT(client, IsOk());
  auto put = [&](absl::Duration timeout) {
    etcdserverpb::PutRequest request;
    request.set_key("/q");
    request.set_value("v");
    return Sync<etcdserverpb::PutResponse>(
        [&](auto done) { (*client)->Put(request, timeout, done); });
  };
  // With a quorum a write commits, once the client has found a live member and (if the leader
  // went) the members have elected another: tried for up to 20 s, 2 s each.
  auto put_within = [&](absl::Duration limit) {
    absl::StatusOr<etcdserverpb::PutResponse> r = put(absl::Seconds(2));
    for (const absl::Time end = absl::Now() + limit; !r.ok() && absl::Now() < end;) {
      r = put(absl::Seconds(2));
    }
    return r;
  };
  ASSERT_THAT(put_within(absl::Seconds(20)), IsOk());
  (*etcd)->Kill(1);
  EXPECT_THAT(put_within(absl::Seconds(20)), IsOk());  // two of three: still a quorum
  (*etcd)->Kill(2);
  EXPECT_FALSE(put(absl::Seconds(2)).ok());  // one of three: no write can commit
  ASSERT_THAT((*etcd)->Restart(2), IsOk());
  EXPECT_THAT(put_within(absl::Seconds(20)), IsOk());
}

}  // namespace
}  // namespace troupe::cluster

namespace troupe::cluster {
namespace {

absl::StatusOr<etcdserverpb::PutResponse> PutThrough(const EtcdOptions& options) {
  auto client = EtcdClient::Create(options);
  if (!client.ok()) return client.status();
  etcdserverpb::PutRequest request;
  request.set_key("tls-key");
  request.set_value("v");
  return Sync<etcdserverpb::PutResponse>(
      [&](auto done) { (*client)->Put(request, absl::Seconds(3), done); });
}

TEST(EtcdTlsTest, MutualTlsWithACertificateTheCaAdmitsAndRefusedWithoutOne) {
  auto pki = TestPki::Create();
  ASSERT_THAT(pki, IsOk());
  ASSERT_THAT(pki->Make({"--ca=other", "stranger"}), IsOk());
  auto etcd = EtcdCluster::Start(1, absl::Seconds(20), pki->Files("server"));
  ASSERT_THAT(etcd, IsOk());
  const std::vector<std::string> endpoints = (*etcd)->endpoints();
  // A client certificate from the same CA: reads and writes.
  EXPECT_THAT(PutThrough({.endpoints = endpoints,
                          .tls = TlsChannelOptions{.files = pki->Files("client")}}),
              IsOk());
  // TLS without a client certificate, one from another CA, or plaintext: refused.
  TlsFiles no_cert{.ca_file = pki->Path("ca.pem")};
  EXPECT_THAT(PutThrough({.endpoints = endpoints, .tls = TlsChannelOptions{.files = no_cert}}),
              StatusIs(absl::StatusCode::kUnavailable));
  TlsFiles stranger = pki->Files("stranger", "other");
  stranger.ca_file = pki->Path("ca.pem");  // trusts etcd; etcd does not trust it
  EXPECT_THAT(PutThrough({.endpoints = endpoints, .tls = TlsChannelOptions{.files = stranger}}),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(PutThrough({.endpoints = endpoints}), StatusIs(absl::StatusCode::kUnavailable));
  // A server certificate for another name than the one dialed is refused by the client.
  EXPECT_THAT(PutThrough({.endpoints = endpoints,
                          .tls = TlsChannelOptions{.files = pki->Files("client"),
                                                   .expected_identity = "not-etcd"}}),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace troupe::cluster
