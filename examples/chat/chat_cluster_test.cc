// The chat sample as a cluster, in one process: two chat servers (each its own ActorSystem,
// RemoteNode and ChatCluster) on the in-memory membership hub, real TCP clients. Nicks unique
// across the nodes, rooms spread over them, one order within a room for senders on both nodes,
// private messages and /who and /rooms across nodes, a node's members leaving its rooms when
// it stops, and the rooms it hosted answering on the other node at once.
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "actors/cluster/in_memory_membership.h"
#include "examples/chat/chat_cluster.h"
#include "examples/chat/cluster_room.h"
#include "examples/chat/chat_server_lib.h"
#include "examples/chat/chat_test_client.h"
#include "gtest/gtest.h"

namespace troupe::chat {
namespace {

struct ChatNodeUnderTest {
  std::unique_ptr<ActorSystem> system;
  std::unique_ptr<ChatCluster> cluster;
  std::unique_ptr<ChatServer> server;

  void Stop() {
    if (!system) return;
    server->Stop();
    cluster->Leave();
    system->Shutdown();
    server.reset();
    cluster.reset();
    system.reset();
  }
};

class ChatClusterTest : public ::testing::Test {
 protected:
  ChatNodeUnderTest& Add(const std::string& name) {
    ChatNodeUnderTest& n = nodes_[name];
    n.system = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 1});
    auto cluster = ChatCluster::Join(*n.system, hub_->NewProvider(), {.node_name = name});
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    n.cluster = *std::move(cluster);
    auto server = ChatServer::Start(*n.system, {.cluster = n.cluster.get()});
    EXPECT_TRUE(server.ok()) << server.status();
    n.server = *std::move(server);
    return n;
  }
  int Port(const std::string& name) { return nodes_.at(name).server->port(); }
  void TearDown() override {
    for (auto& [name, n] : nodes_) n.Stop();
  }

  std::shared_ptr<troupe::cluster::InMemoryMembershipHub> hub_ =
      troupe::cluster::InMemoryMembershipHub::Create();
  std::map<std::string, ChatNodeUnderTest> nodes_;
};

TEST_F(ChatClusterTest, MembersOnTwoNodesShareRoomsNicksAndPrivateMessages) {
  Add("a");
  Add("b");
  ChatTestClient alice(Port("a")), bob(Port("b")), bea(Port("b"));
  alice.Send("/nick alice\n");
  alice.Expect("* nick alice");
  bob.Send("/nick alice\n");
  bob.Expect("! nick alice is in use");  // held on the other node
  bob.Send("/nick bob\n");
  bob.Expect("* nick bob");
  bea.Send("/nick bob\n");
  bea.Expect("! nick bob is in use");  // held on this node
  bea.Send("/nick bea\n");
  bea.Expect("* nick bea");

  std::vector<std::string> rooms;
  for (int i = 0; i < 8; ++i) rooms.push_back(absl::StrCat("r", i));
  for (const std::string& room : rooms) {
    for (ChatTestClient* c : {&alice, &bob, &bea}) {
      c->Send(absl::StrCat("/join ", room, "\n"));
      c->WaitFor(absl::StrCat("* joined ", room));
    }
  }
  // The rooms live on both nodes.
  const size_t on_a = nodes_.at("a").cluster->node()->directory.Hosted().size();
  EXPECT_GT(on_a, 0u);
  EXPECT_LT(on_a, 8u);

  for (ChatTestClient* c : {&alice, &bob, &bea}) {
    c->Send("/who r3\n");
    c->WaitFor("* who r3 alice bea bob");
  }
  // One order for senders on two nodes: each sends 50 lines into r5 at once.
  constexpr int kLines = 50;
  std::thread a_sends([&] {
    for (int i = 0; i < kLines; ++i) alice.Send(absl::StrCat("/say r5 a", i, "\n"));
  });
  for (int i = 0; i < kLines; ++i) bob.Send(absl::StrCat("/say r5 b", i, "\n"));
  a_sends.join();
  std::vector<std::vector<std::string>> seen(3);
  int k = 0;
  for (ChatTestClient* c : {&alice, &bob, &bea}) {
    while (seen[k].size() < 2 * kLines) {
      std::string line = c->Line();
      ASSERT_NE(line, "<timeout>");
      if (line.rfind("[r5] ", 0) == 0) seen[k].push_back(line);
    }
    ++k;
  }
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0], seen[2]);
  std::vector<std::string> from_alice;
  for (const std::string& line : seen[0]) {
    if (line.rfind("[r5] alice: ", 0) == 0) from_alice.push_back(line.substr(12));
  }
  ASSERT_EQ(from_alice.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) EXPECT_EQ(from_alice[i], absl::StrCat("a", i));

  alice.Send("/msg bea across\n");
  bea.WaitFor("[pm] alice: across");
  bea.Send("/msg alice back\n/msg nobody x\n");
  alice.WaitFor("[pm] bea: back");
  bea.WaitFor("! no user nobody");
  bob.Send("/rooms\n");
  bob.WaitFor(absl::StrCat("* rooms ", absl::StrJoin(rooms, " ")));
  bob.Send("/who nowhere\n");
  bob.WaitFor("! no room nowhere");
}

TEST_F(ChatClusterTest, ANodeThatStopsLeavesItsRoomsAndTheyAnswerOnTheOtherNode) {
  Add("a");
  Add("b");
  ChatTestClient alice(Port("a")), bob(Port("b"));
  alice.Send("/nick alice\n");
  alice.Expect("* nick alice");
  bob.Send("/nick bob\n");
  bob.Expect("* nick bob");
  std::vector<std::string> rooms;
  for (int i = 0; i < 6; ++i) rooms.push_back(absl::StrCat("s", i));
  for (const std::string& room : rooms) {
    alice.Send(absl::StrCat("/join ", room, "\n"));
    alice.WaitFor(absl::StrCat("* joined ", room));
    bob.Send(absl::StrCat("/join ", room, "\n"));
    bob.WaitFor(absl::StrCat("* joined ", room));
    alice.WaitFor(absl::StrCat("* bob joined ", room));
  }
  nodes_.at("b").Stop();  // a graceful leave: b's rooms move to a at once
  for (const std::string& room : rooms) {
    alice.Send(absl::StrCat("/say ", room, " still here\n"));
    alice.WaitFor(absl::StrCat("[", room, "] alice: still here"));
  }
  // bob's node went silent: every room says so within the silence window.
  for (const std::string& room : rooms) {
    alice.Send(absl::StrCat("/who ", room, "\n"));
    for (;;) {
      std::string line = alice.Line(kNodeSilence + absl::Seconds(5));
      ASSERT_NE(line, "<timeout>");
      if (line == absl::StrCat("* who ", room, " alice")) break;
      if (line == absl::StrCat("* who ", room, " alice bob")) {
        // Real time: the room drops b's members after kNodeSilence on the clock; ask again.
        absl::SleepFor(absl::Milliseconds(500));
        alice.Send(absl::StrCat("/who ", room, "\n"));
      }
    }
  }
  // And bob's nick is free again.
  ChatTestClient bob2(Port("a"));
  bob2.Send("/nick bob\n");
  bob2.Expect("* nick bob");
}

TEST_F(ChatClusterTest, ANickTakenWhileItsNodeWasOutOfTheClusterIsGivenUpWhenItComesBack) {
  Add("a");
  Add("b");
  ChatTestClient alice(Port("a"));
  alice.Send("/nick alice\n");
  alice.Expect("* nick alice");
  hub_->Partition("a");  // a cannot reach the store: its lease runs out, its names go
  hub_->ExpireLease("a");
  ChatTestClient other(Port("b"));
  for (int i = 0;; ++i) {  // b hears of a's departure, then the nick is free
    other.Send("/nick alice\n");
    const std::string got = other.Line();
    if (got == "* nick alice") break;
    ASSERT_EQ(got, "! nick alice is in use");
    ASSERT_LT(i, 50);
    // Real time: b hears of a's departure from the hub on its own threads; try again.
    absl::SleepFor(absl::Milliseconds(100));
  }
  hub_->Heal("a");  // a joins again and claims its sessions' nicks again: this one is taken
  alice.WaitFor("! your nick alice was taken on another node while this one was out of the cluster");
  alice.Expect("<closed>");
  other.Send("/join r\nhello\n");
  other.WaitFor("[r] alice: hello");  // one alice in the cluster
}

}  // namespace
}  // namespace troupe::chat
