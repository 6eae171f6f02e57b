// The store sharded over a cluster, from another workspace: a KvShard virtual actor per shard
// ("shard/0".."shard/7"), hosted by two nodes that find each other through troupe's in-memory
// membership (a unit test's stand-in for etcd: EtcdMembership in production). A key's shard is
// the same on every node, so a value put through one node is read through the other, wherever
// the shard lives; when a node leaves, its shards come back empty on the other (virtual actors
// keep state in memory: a store that must survive keeps it elsewhere).
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "actors/cluster/cluster.h"
#include "actors/cluster/in_memory_membership.h"
#include "actors/remote/remote_node.h"
#include "gtest/gtest.h"
#include "kv.pb.h"

namespace kv {
namespace {

using ShardProtocol = troupe::Protocol<troupe::Request<PutRequest, PutReply>,
                                       troupe::Request<GetRequest, GetReply>>;

class KvShard : public troupe::Actor<KvShard, ShardProtocol> {
 public:
  explicit KvShard(troupe::cluster::VirtualIdentity) {}
  PutReply Handle(PutRequest request) {
    PutReply reply;
    reply.set_replaced(map_.contains(request.key()));
    map_[request.key()] = request.value();
    return reply;
  }
  GetReply Handle(GetRequest request) {
    GetReply reply;
    auto it = map_.find(request.key());
    reply.set_found(it != map_.end());
    if (it != map_.end()) reply.set_value(it->second);
    return reply;
  }

 private:
  std::map<std::string, std::string> map_;
};

std::string ShardOf(const std::string& key) { return absl::StrCat(key.size() % 8); }

struct Node {
  std::unique_ptr<troupe::ActorSystem> system;
  std::unique_ptr<troupe::RemoteNode> remote;
  std::unique_ptr<troupe::cluster::Cluster> cluster;
};

class KvShardTest : public ::testing::Test {
 protected:
  Node& Start(const std::string& name) {
    Node& n = nodes_[name];
    n.system = std::make_unique<troupe::ActorSystem>(troupe::ActorSystemOptions{.threads = 1});
    n.remote = troupe::RemoteNode::Start(*n.system, {.name = name, .listen_address = "127.0.0.1:0"})
                   .value();
    n.cluster = troupe::cluster::Cluster::Create(
                    *n.system, *n.remote, hub_->NewProvider(),
                    {.advertise_address = absl::StrCat("127.0.0.1:", n.remote->port())})
                    .value();
    EXPECT_TRUE(n.cluster->Kind<KvShard>("shard", {}).ok());
    EXPECT_TRUE(n.cluster->Start().ok());
    return n;
  }
  absl::StatusOr<GetReply> Get(Node& n, const std::string& key) {
    GetRequest request;
    request.set_key(key);
    auto shard = n.cluster->Get<ShardProtocol>("shard", ShardOf(key));
    if (!shard.ok()) return shard.status();
    return n.system->Ask(*shard, request, absl::Seconds(5)).get();
  }
  absl::StatusOr<PutReply> Put(Node& n, const std::string& key, const std::string& value) {
    PutRequest request;
    request.set_key(key);
    request.set_value(value);
    auto shard = n.cluster->Get<ShardProtocol>("shard", ShardOf(key));
    if (!shard.ok()) return shard.status();
    return n.system->Ask(*shard, request, absl::Seconds(5)).get();
  }
  void TearDown() override {
    for (auto& [name, n] : nodes_) n.cluster.reset();
  }

  std::shared_ptr<troupe::cluster::InMemoryMembershipHub> hub_ =
      troupe::cluster::InMemoryMembershipHub::Create();
  std::map<std::string, Node> nodes_;
};

TEST_F(KvShardTest, AValuePutThroughOneNodeIsReadThroughTheOther) {
  Node& a = Start("node-a");
  Node& b = Start("node-b");
  for (int i = 0; i < 16; ++i) {
    const std::string key(i + 1, 'k');  // 16 keys over the 8 shards
    ASSERT_TRUE(Put(i % 2 == 0 ? a : b, key, absl::StrCat("v", i)).ok()) << key;
  }
  for (int i = 0; i < 16; ++i) {
    const std::string key(i + 1, 'k');
    absl::StatusOr<GetReply> got = Get(i % 2 == 0 ? b : a, key);  // through the other node
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->found()) << key;
    EXPECT_EQ(got->value(), absl::StrCat("v", i));
  }
  // Both nodes host shards (rendezvous hashing spreads the 8 over the two).
  EXPECT_GT(a.cluster->stats().activations, 0u);
  EXPECT_GT(b.cluster->stats().activations, 0u);
  // node-b leaves: every shard is served by node-a (those that were on node-b start empty).
  b.cluster->Leave();
  int found = 0;
  for (int i = 0; i < 16; ++i) {
    absl::StatusOr<GetReply> got = Get(a, std::string(i + 1, 'k'));
    ASSERT_TRUE(got.ok()) << got.status();
    found += got->found();
  }
  EXPECT_GT(found, 0);
  EXPECT_LT(found, 16);
  EXPECT_EQ(a.cluster->stats().activations, 8u);
}

}  // namespace
}  // namespace kv
