// ClusterRoom: one chat room of a cluster, the virtual actor "room/NAME" (single activation:
// the one place its messages are ordered, so every member on every node sees one order). Its
// members are sessions on any node; it sends each said line once per node, to that node's
// inbox (its own node's stub directly), and the node's RoomStub hands it to the members there.
// It keeps the last 100 lines and, with a history directory, appends every line to
// DIR/ROOM.log (RoomHistory). Its history comes back when it moves (a node died or joined) only
// if the nodes share that directory; otherwise it starts from whatever file the new node has.
// A node's members go when the room has not heard from that node's stub for kNodeSilence (each
// stub refreshes its members every second): a node killed with kill -9 leaves its rooms that
// way, "* NICK left ROOM" for each of its members.
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_CLUSTER_ROOM_H_
#define EXAMPLES_CHAT_CLUSTER_ROOM_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "examples/chat/chat_node.h"
#include "examples/chat/room_history.h"

namespace troupe::chat {

inline constexpr absl::Duration kStubRefresh = absl::Seconds(1);
inline constexpr absl::Duration kNodeSilence = absl::Milliseconds(3500);

class ClusterRoom : public Actor<ClusterRoom, ClusterRoomProtocol> {
 public:
  ClusterRoom(troupe::cluster::VirtualIdentity identity, std::shared_ptr<ChatNode> node);

  void Handle(wire::RoomJoin m);
  void Handle(wire::RoomLeave m);
  void Handle(wire::RoomSay m);
  void Handle(wire::RoomRefresh m);
  void Handle(wire::RoomWho, Promise<wire::RoomNicks> nicks);
  void Handle(wire::RoomFlush, Promise<wire::RoomFlushed> done);

 private:
  void OnStart() override;
  void OnStop() override;

  struct NodeMembers {
    std::string address;
    absl::Time heard;
    std::map<uint64_t, wire::RoomMember> members;  // by session
  };
  // Runs `fn` now, or once the history is read.
  void WhenLoaded(absl::AnyInvocable<void()> fn);
  NodeMembers& Heard(const wire::RoomMember& member);
  NodeMembers& Heard(const std::string& node, const std::string& address);
  // Adds `member` if new (silently, unless it had been swept); true if it was new.
  bool Add(const wire::RoomMember& member);
  void AnnounceIfSwept(const std::string& node, const wire::RoomMember& member);
  void Announce(const std::string& text, const std::string& except_node, uint64_t except_session);
  void SendTo(const std::string& node, const std::string& address, wire::RoomLines lines);
  void Sweep();

  const std::string name_;
  const std::shared_ptr<ChatNode> node_;
  std::optional<RoomHistory> history_;  // once read
  std::deque<absl::AnyInvocable<void()>> before_loaded_;
  std::map<std::string, NodeMembers> nodes_;
  // Members dropped for their node's silence (announced as gone), for a minute: one that turns
  // up again (its node was only paused) is announced as back.
  std::map<std::pair<std::string, uint64_t>, absl::Time> swept_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CLUSTER_ROOM_H_
