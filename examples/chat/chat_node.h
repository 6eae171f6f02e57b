// ChatNode: what one node's chat actors share in cluster mode (chat_server --cluster): the
// node's name and address, its RemoteNode and Cluster, and a directory of what lives here - the
// nicks this node's sessions hold, the RoomStub per room they are in, and the rooms this node
// hosts. Rooms (ClusterRoom), stubs (RoomStub), the lobby (ClusterLobby) and the node's inbox
// (NodeInbox) read and update it.
//
// Thread safety: the directory is thread-safe (one mutex; no call runs user code under it); the
// rest is fixed once the node has joined.
#ifndef EXAMPLES_CHAT_CHAT_NODE_H_
#define EXAMPLES_CHAT_CHAT_NODE_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "actors/cluster/cluster.h"
#include "actors/remote/remote_node.h"
#include "examples/chat/chat_messages.h"
#include "framework/base/mutex.h"
#include "proto/chat_cluster.pb.h"

namespace troupe::chat {

namespace wire = ::troupe::chat::cluster;

// A room, wherever it lives: the virtual actor "room/NAME".
using ClusterRoomProtocol =
    Protocol<wire::RoomJoin, wire::RoomLeave, wire::RoomSay, wire::RoomRefresh,
             Request<wire::RoomWho, wire::RoomNicks>, Request<wire::RoomFlush, wire::RoomFlushed>>;
using ClusterRoomRef = ActorRef<ClusterRoomProtocol>;
// A node's inbox, exported as kInboxName: room lines for its stubs, private lines for its members.
using NodeInboxProtocol =
    Protocol<wire::RoomLines, Request<wire::PrivateLine, wire::PrivateDelivered>>;
inline constexpr char kInboxName[] = "chat/node";
inline constexpr char kRoomKind[] = "room";
inline constexpr char kNickPrefix[] = "nick/";  // the cluster names nicks are held under

class NodeDirectory {
 public:
  using Deliver = std::function<void(wire::RoomLines)>;

  // Nicks held by this node's sessions. AddNick: false if another session here holds it.
  bool AddNick(const std::string& nick, Member member);
  void RemoveNick(const std::string& nick, uint64_t id);
  std::optional<Member> FindNick(const std::string& nick) const;
  std::vector<Member> Nicks() const;

  // The stub of a room this node's sessions are in, and how to hand it the room's lines.
  void AddStub(const std::string& room, RoomRef stub);
  void SetDeliver(const std::string& room, uint64_t stub_id, Deliver deliver);
  std::optional<RoomRef> FindStub(const std::string& room) const;
  std::vector<RoomRef> Stubs() const;
  void RemoveStub(const std::string& room, uint64_t stub_id);
  // False if no stub here is in that room (it stopped): the lines are dropped.
  bool DeliverToStub(wire::RoomLines lines) const;

  // The rooms active on this node.
  void AddHosted(const std::string& room, ClusterRoomRef ref);
  void RemoveHosted(const std::string& room, uint64_t id);
  std::vector<ClusterRoomRef> Hosted() const;

 private:
  struct Stub {
    RoomRef ref;
    Deliver deliver;
  };
  mutable Mutex mu_;
  absl::flat_hash_map<std::string, Member> nicks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Stub> stubs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ClusterRoomRef> hosted_ ABSL_GUARDED_BY(mu_);
};

struct ChatNode {
  std::string name;     // the node's cluster name
  std::string address;  // host:port peers reach its RemoteNode on
  RemoteNode* node = nullptr;
  troupe::cluster::Cluster* cluster = nullptr;
  std::string history_dir;  // where rooms hosted here keep their history (empty: memory only)
  NodeDirectory directory;

  // This node's part in a room's wire messages.
  wire::RoomMember WireMember(const Member& member) const;
  // The inbox of the node at `address` (this node's own inbox is reached directly instead).
  absl::StatusOr<ActorRef<NodeInboxProtocol>> InboxAt(const std::string& address) const {
    return node->Ref<NodeInboxProtocol>(address, kInboxName);
  }
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_NODE_H_
