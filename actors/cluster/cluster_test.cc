// Virtual actors on in-memory membership (real RemoteNodes over loopback, a scripted store):
// 300 identities placed by rendezvous hashing and activated on first message; a join moves only
// about 1/N of them (the rest keep their state); a member whose lease is lost is fenced - its
// activations stop and it refuses virtual-actor traffic - and its identities come back on the
// others; messages wait (bounded, with a deadline) while no member hosts a kind; single
// activation hands out a fencing token.
#include "actors/cluster/cluster.h"

#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actors/cluster/in_memory_membership.h"
#include "actors/cluster/placement.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"
#include "proto/echo.pb.h"
#include "proto/ping.pb.h"

namespace troupe::cluster {
namespace {

using examples::EchoReply;
using examples::EchoRequest;
using examples::Ping;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;
using ::troupe::testing::WaitFor;

// Counts Pings; asked, answers "node:count:fencing_token".
using CounterProtocol = Protocol<Ping, Request<EchoRequest, EchoReply>>;
class Counter : public Actor<Counter, CounterProtocol> {
 public:
  Counter(VirtualIdentity identity, std::string node)
      : identity_(std::move(identity)), node_(std::move(node)) {}
  void Handle(Ping) { ++count_; }
  EchoReply Handle(EchoRequest) {
    EchoReply reply;
    reply.set_text(absl::StrCat(node_, ":", count_, ":", identity_.fencing_token));
    return reply;
  }

 private:
  VirtualIdentity identity_;
  std::string node_;
  int count_ = 0;
};

struct TestNode {
  std::unique_ptr<ActorSystem> system;
  std::unique_ptr<RemoteNode> node;
  std::unique_ptr<Cluster> cluster;
};

class ClusterTest : public ::testing::Test {
 protected:
  TestNode& Add(const std::string& name, std::vector<std::string> kinds = {"counter"},
                ClusterOptions options = {}) {
    TestNode& n = nodes_[name];
    n.system = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 1});
    auto node = RemoteNode::Start(*n.system, {.name = name, .listen_address = "127.0.0.1:0"});
    EXPECT_THAT(node, IsOk());
    n.node = *std::move(node);
    options.advertise_address = absl::StrCat("127.0.0.1:", n.node->port());
    auto cluster = Cluster::Create(*n.system, *n.node, hub_->NewProvider(), options);
    EXPECT_THAT(cluster, IsOk());
    n.cluster = *std::move(cluster);
    for (const std::string& kind : kinds) {
      KindOptions kind_options{.single_activation = kind == "single"};
      if (kind == "brief") kind_options.passivate_after = absl::Milliseconds(200);
      EXPECT_THAT(n.cluster->Kind<Counter>(kind, kind_options, name), IsOk());
    }
    EXPECT_THAT(n.cluster->Start(), IsOk());
    return n;
  }
  absl::StatusOr<std::string> Ask(const std::string& from, const std::string& kind,
                                  const std::string& id, absl::Duration timeout = absl::Seconds(5)) {
    TestNode& n = nodes_.at(from);
    auto ref = n.cluster->Get<CounterProtocol>(kind, id);
    if (!ref.ok()) return ref.status();
    auto reply = n.system->Ask(*ref, EchoRequest(), timeout).get();
    if (!reply.ok()) return reply.status();
    return reply->text();
  }
  void Tell(const std::string& from, const std::string& id) {
    auto ref = nodes_.at(from).cluster->Get<CounterProtocol>("counter", id);
    ASSERT_THAT(ref, IsOk());
    ref->Tell(Ping());
  }
  static std::string Owner(const std::string& id, std::vector<std::string> members,
                           std::string_view kind = "counter") {
    std::vector<std::string_view> names(members.begin(), members.end());
    return members[RendezvousOwner(kind, id, names)];
  }
  void TearDown() override {
    for (auto& [name, n] : nodes_) n.cluster.reset();
    for (auto& [name, n] : nodes_) n.node.reset();
  }

  std::shared_ptr<InMemoryMembershipHub> hub_ = InMemoryMembershipHub::Create();
  std::map<std::string, TestNode> nodes_;
};

TEST_F(ClusterTest, IdentitiesArePlacedByTheHashAndMoveOnlyWhenTheirOwnerChanges) {
  Add("node-a");
  Add("node-b");
  Add("node-c");
  constexpr int kIds = 300;
  const std::vector<std::string> three = {"node-a", "node-b", "node-c"};
  std::map<std::string, int> load;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = absl::StrCat("r", i);
    Tell(three[i % 3], id);  // activated by a Ping from any member
    ASSERT_THAT(Ask(three[i % 3], "counter", id), IsOk());  // (after the Ping: same sender)
    absl::StatusOr<std::string> who = Ask(three[(i + 1) % 3], "counter", id);  // another one
    ASSERT_THAT(who, IsOk()) << id;
    EXPECT_EQ(*who, Owner(id, three) + ":1:0") << id;  // the hash's owner, which got the Ping
    ++load[Owner(id, three)];
  }
  for (const auto& [name, n] : load) EXPECT_GT(n, 60) << name;  // spread over the three
  EXPECT_EQ(nodes_["node-a"].cluster->stats().activations +
                nodes_["node-b"].cluster->stats().activations +
                nodes_["node-c"].cluster->stats().activations,
            static_cast<uint64_t>(kIds));
  // A fourth member joins: only what it now wins moves (and starts again); the rest keep state.
  Add("node-d");
  const std::vector<std::string> four = {"node-a", "node-b", "node-c", "node-d"};
  int moved = 0;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = absl::StrCat("r", i);
    absl::StatusOr<std::string> who = Ask("node-a", "counter", id);
    ASSERT_THAT(who, IsOk()) << id;
    const std::string owner = Owner(id, four);
    if (owner != Owner(id, three)) {
      ++moved;
      EXPECT_EQ(owner, "node-d");
      EXPECT_EQ(*who, "node-d:0:0") << id;  // activated anew on its new owner
    } else {
      EXPECT_EQ(*who, owner + ":1:0") << id;  // untouched
    }
  }
  EXPECT_GT(moved, kIds / 4 - 30);
  EXPECT_LT(moved, kIds / 4 + 30);
}

TEST_F(ClusterTest, AMemberThatLosesItsLeaseIsFencedAndItsIdentitiesComeBackElsewhere) {
  Add("node-a");
  Add("node-b", {"counter"}, {.buffer_timeout = absl::Milliseconds(300)});
  Add("node-c");
  const std::vector<std::string> all = {"node-a", "node-b", "node-c"};
  std::string on_b;
  for (int i = 0; on_b.empty(); ++i) {
    const std::string id = absl::StrCat("x", i);
    if (Owner(id, all) == "node-b") on_b = id;
  }
  ASSERT_THAT(Ask("node-a", "counter", on_b), IsOk());
  // node-b is cut off from the store: its lease runs out; it cannot rejoin.
  hub_->Partition("node-b");
  hub_->ExpireLease("node-b");
  EXPECT_FALSE(nodes_["node-b"].cluster->lease()->Valid());
  EXPECT_EQ(nodes_["node-b"].cluster->stats().fences, 1u);
  // node-b's identity is active again on its new owner (from scratch).
  const std::string now = Owner(on_b, {"node-a", "node-c"});
  EXPECT_THAT(Ask("node-a", "counter", on_b), testing::IsOkAndHolds(now + ":0:0"));
  // node-b refuses virtual-actor traffic, from peers and from its own refs (after waiting).
  auto direct = nodes_["node-a"].node->Ref<CounterProtocol>(
      absl::StrCat("127.0.0.1:", nodes_["node-b"].node->port()),
      internal::ClusterCore::WireName("counter", on_b));
  ASSERT_THAT(direct, IsOk());
  EXPECT_THAT(nodes_["node-a"].system->Ask(*direct, EchoRequest(), absl::Seconds(5)).get(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Ask("node-b", "counter", on_b), StatusIs(absl::StatusCode::kUnavailable));
  // Healed, it rejoins with a new incarnation and owns its share again.
  hub_->Heal("node-b");
  EXPECT_THAT(Ask("node-a", "counter", on_b), testing::IsOkAndHolds("node-b:0:0"));
}

TEST_F(ClusterTest, MessagesWaitBoundedForAnOwnerThenGoToIt) {
  Add("node-a", {"counter"},
      {.buffer_timeout = absl::Seconds(5), .buffer_limit = 3});
  // Nobody hosts "rare" yet: asks wait.
  TestNode& a = nodes_["node-a"];
  auto rare = a.cluster->Get<CounterProtocol>("rare", "x");
  ASSERT_THAT(rare, IsOk());
  std::vector<std::future<absl::StatusOr<EchoReply>>> waiting;
  for (int i = 0; i < 3; ++i) waiting.push_back(a.system->Ask(*rare, EchoRequest(), absl::Seconds(10)));
  // A fourth is over the bound: refused at once.
  EXPECT_THAT(a.system->Ask(*rare, EchoRequest(), absl::Seconds(10)).get(),
              StatusIs(absl::StatusCode::kUnavailable));
  Add("node-e", {"rare"});  // a host appears: what waited goes to it
  for (auto& f : waiting) {
    absl::StatusOr<EchoReply> r = f.get();
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->text(), "node-e:0:0");
  }
  // With no host ever, a waiting ask fails at the buffer timeout, not its own.
  Add("node-f", {"counter"}, {.buffer_timeout = absl::Milliseconds(200)});
  const absl::Time start = absl::Now();
  EXPECT_THAT(Ask("node-f", "nobody", "y", absl::Seconds(10)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(ClusterTest, AnIdleActivationPassivatesAndTheSameRefActivatesItAgain) {
  // A virtual ref reuses its route until something changes: a local passivation is such a
  // change (the next message must not go to the stopped host), and a remote owner's passivation
  // is re-resolved by the owner.
  Add("node-a", {"brief"});
  Add("node-b", {"brief"});
  const std::vector<std::string> both = {"node-a", "node-b"};
  std::map<std::string, std::string> id_on;  // owner -> an id it owns
  for (int i = 0; id_on.size() < 2; ++i) {
    const std::string id = absl::StrCat("b", i);
    id_on.emplace(Owner(id, both, "brief"), id);
  }
  TestNode& a = nodes_["node-a"];
  for (const auto& [owner, id] : id_on) {
    auto ref = a.cluster->Get<CounterProtocol>("brief", id);
    ASSERT_THAT(ref, IsOk());
    ref->Tell(Ping());
    EXPECT_THAT(Ask("node-a", "brief", id), testing::IsOkAndHolds(owner + ":1:0"));
  }
  for (const std::string& name : both) {
    ASSERT_TRUE(WaitFor([&] { return nodes_[name].cluster->stats().passivations >= 1; },
                        absl::Seconds(10)))
        << name;
  }
  for (const auto& [owner, id] : id_on) {
    // The same refs (Get returns the one ref per identity): activated anew, nothing lost.
    EXPECT_THAT(Ask("node-a", "brief", id), testing::IsOkAndHolds(owner + ":0:0")) << owner;
    EXPECT_EQ(nodes_[owner].cluster->stats().activations, 2u) << owner;
  }
  EXPECT_EQ(a.cluster->stats().sent_local, 3u);  // Ping, ask, ask
  EXPECT_EQ(a.cluster->stats().sent_remote, 3u);
}

TEST_F(ClusterTest, SingleActivationClaimsFirstAndHandsOutAFencingToken) {
  Add("node-a", {"single"});
  Add("node-b", {"single"});
  absl::StatusOr<std::string> who = Ask("node-a", "single", "s1");
  ASSERT_THAT(who, IsOk());
  std::vector<std::string> parts = absl::StrSplit(*who, ':');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_GT(std::stoll(parts[2]), 0);  // the claim's revision
  // The same identity asked from the other member reaches the same activation.
  EXPECT_THAT(Ask("node-b", "single", "s1"), testing::IsOkAndHolds(*who));
}

TEST_F(ClusterTest, NamesHaveOneHolderAndGoWithItsLease) {
  TestNode& a = Add("node-a", {"single"});
  TestNode& b = Add("node-b", {"single"});
  auto claim = [](TestNode& n, const std::string& name) {
    std::promise<absl::StatusOr<Claim>> done;
    n.cluster->ClaimName(name, [&](absl::StatusOr<Claim> c) { done.set_value(std::move(c)); });
    return done.get_future().get();
  };
  auto read = [](TestNode& n, const std::string& prefix) {
    std::promise<absl::StatusOr<MembershipProvider::ClaimList>> done;
    n.cluster->ReadNames(prefix, [&](auto r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  };
  ASSERT_THAT(claim(a, "nick/ann"), testing::IsOkAndHolds(::testing::Field(&Claim::ours, true)));
  absl::StatusOr<Claim> taken = claim(b, "nick/ann");
  ASSERT_THAT(taken, IsOk());
  EXPECT_FALSE(taken->ours);
  EXPECT_EQ(taken->owner, "node-a");
  ASSERT_THAT(claim(b, "nick/bob"), IsOk());
  auto names = read(a, "nick/");
  ASSERT_THAT(names, IsOk());
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ((*names)[0].first, "nick/ann");
  EXPECT_TRUE((*names)[0].second.ours);
  EXPECT_EQ((*names)[1].first, "nick/bob");
  EXPECT_EQ((*names)[1].second.owner, "node-b");
  // Names and single activations do not mix.
  ASSERT_THAT(Ask("node-a", "single", "s1"), IsOk());
  ASSERT_THAT(Ask("node-a", "single", "s2"), IsOk());
  std::promise<absl::StatusOr<std::vector<std::string>>> active;
  a.cluster->ReadActivations("single", [&](auto r) { active.set_value(std::move(r)); });
  EXPECT_THAT(active.get_future().get(),
              testing::IsOkAndHolds(std::vector<std::string>{"s1", "s2"}));
  // Released, a name is free; a fenced holder loses its names and comes back another incarnation.
  b.cluster->ReleaseName("nick/bob");
  EXPECT_THAT(claim(a, "nick/bob"), testing::IsOkAndHolds(::testing::Field(&Claim::ours, true)));
  const uint64_t before = a.cluster->incarnation();
  EXPECT_GT(before, 0u);
  hub_->ExpireLease("node-a");
  ASSERT_TRUE(WaitFor([&] { return a.cluster->incarnation() != 0; }));
  EXPECT_NE(a.cluster->incarnation(), before);
  EXPECT_THAT(claim(b, "nick/ann"), testing::IsOkAndHolds(::testing::Field(&Claim::ours, true)));
}

}  // namespace
}  // namespace troupe::cluster
