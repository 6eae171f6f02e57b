// RoomStub: a node's end of one cluster room (chat_server --cluster). The node's sessions use it
// as they use a Room (it speaks RoomProtocol); it forwards their joins, leaves and lines to the
// room - the virtual actor "room/NAME", wherever it lives - and hands the room's lines to the
// members on this node. A joiner's "* joined" and history come back from the room before any
// later line, so it keeps the room's order. A sender's flow-control credit waits here until its
// line comes back from the room and then travels with the local copies (so a sender is paced to
// the readers on its own node; the room does not pace across nodes), or is released after
// kCreditTimeout if the line never comes back - it went to a node that died before the cluster
// noticed (at most once) - or once a later line came back first; its sender is told it may be
// lost. Every kStubRefresh it
// tells the room who its members here are (a room that moved learns them again). It stops
// after kStubIdle without members.
//
// Thread safety: an actor; the room's lines reach it through the node's directory, as messages.
#ifndef EXAMPLES_CHAT_ROOM_STUB_H_
#define EXAMPLES_CHAT_ROOM_STUB_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "examples/chat/chat_node.h"

namespace troupe::chat {

inline constexpr absl::Duration kCreditTimeout = absl::Seconds(5);
inline constexpr absl::Duration kStubIdle = absl::Seconds(30);
inline constexpr absl::Duration kJoinTimeout = absl::Seconds(10);

class RoomStub : public Actor<RoomStub, RoomProtocol> {
 public:
  RoomStub(std::string room, std::shared_ptr<ChatNode> node);

  void Handle(JoinRoom m, Promise<std::vector<Line>> welcome);
  void Handle(LeaveRoom m);
  void Handle(SayInRoom m);
  void Handle(WhoInRoom, Promise<std::vector<std::string>> nicks);
  void Handle(FlushHistory, Promise<bool> done);

 private:
  void OnStart() override;
  void OnLines(wire::RoomLines lines);
  void Tick();
  // Tells each sender (once) that lines it said did not come back from the room.
  void TellLost(const absl::flat_hash_set<uint64_t>& senders);

  struct Joining {
    Promise<std::vector<Line>> welcome;
    absl::Time since;
  };
  struct Said {
    uint64_t sequence;
    uint64_t sender;
    Credit credit;
    absl::Time at;
  };

  const std::string room_;
  const std::shared_ptr<ChatNode> node_;
  ClusterRoomRef room_ref_;
  absl::flat_hash_map<uint64_t, Member> members_;    // by session
  absl::flat_hash_map<uint64_t, Joining> joining_;   // members whose welcome is on its way
  std::deque<Said> said_;                            // lines on their way through the room
  uint64_t sequence_ = 0;
  absl::Time idle_since_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_ROOM_STUB_H_
