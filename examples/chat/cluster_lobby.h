// ClusterLobby: a node's lobby in cluster mode (chat_server --cluster), in place of Lobby: the
// node's sessions use it the same way (it speaks LobbyProtocol). Nicks are unique across the
// cluster: each is a cluster name ("nick/NICK", Cluster::ClaimName) held by the node of the
// session that took it, and goes with that node's lease if it dies. A nick given back stays
// held by this node for kNickGrace (a client that reconnects gets it again) before another node
// can take it. Rooms are virtual actors; the lobby hands out this node's RoomStub for a room.
// /rooms lists the rooms active in the cluster (those with members, or used within the room
// idle time); /msg reaches a member on this node directly and one elsewhere through the inbox
// of the node holding the nick. When this node was fenced and joined again (a new incarnation)
// it claims its sessions' nicks again; a session whose nick another node took meanwhile is
// told so and disconnected.
//
// NodeInbox: the node's inbox (exported as kInboxName): room lines for its stubs, private
// lines for its members.
//
// Thread safety: actors.
#ifndef EXAMPLES_CHAT_CLUSTER_LOBBY_H_
#define EXAMPLES_CHAT_CLUSTER_LOBBY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "examples/chat/chat_node.h"

namespace troupe::chat {

inline constexpr absl::Duration kNickGrace = absl::Seconds(5);

class ClusterLobby : public Actor<ClusterLobby, LobbyProtocol> {
 public:
  explicit ClusterLobby(std::shared_ptr<ChatNode> node) : node_(std::move(node)) {}

  void Handle(ClaimNick m, Promise<bool> ok);
  void Handle(ReleaseNick m);
  RoomRef Handle(OpenRoom m);
  void Handle(FindRoom m, Promise<std::optional<RoomRef>> room);
  void Handle(ListRooms, Promise<std::vector<std::string>> names);
  std::vector<RoomRef> Handle(AllRooms);
  void Handle(SendPrivate m, Promise<bool> sent);

 private:
  void OnStart() override;
  absl::StatusOr<RoomRef> StubFor(const std::string& room);
  void ReleaseLater(const std::string& nick);
  void CheckIncarnation();
  // Claims the nicks in reclaim_ again (each tick until the store answers).
  void Reclaim();

  const std::shared_ptr<ChatNode> node_;
  absl::flat_hash_set<std::string> claiming_;  // claims in flight
  absl::flat_hash_map<std::string, uint64_t> reclaim_;  // nick -> session, after a fence
  uint64_t incarnation_ = 0;
};

class NodeInbox : public Actor<NodeInbox, NodeInboxProtocol> {
 public:
  explicit NodeInbox(std::shared_ptr<ChatNode> node) : node_(std::move(node)) {}

  void Handle(wire::RoomLines m) { node_->directory.DeliverToStub(std::move(m)); }
  wire::PrivateDelivered Handle(wire::PrivateLine m);

 private:
  const std::shared_ptr<ChatNode> node_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CLUSTER_LOBBY_H_
