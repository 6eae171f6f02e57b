// Room: one chat room. It is the one place the room's messages are ordered, so every member
// sees them in the same order. A message's line carries its sender's flow-control credit to
// every member (see OutputPacer): a sender is paced to the members that read. Its RoomHistory
// keeps the last 100 messages for joiners and, with a history file, appends every message to it
// through the executor, never on a worker.
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_ROOM_H_
#define EXAMPLES_CHAT_ROOM_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "examples/chat/chat_messages.h"
#include "examples/chat/room_history.h"

namespace troupe::chat {

class Room : public Actor<Room, RoomProtocol> {
 public:
  // Rooms are what a chat server's load is: measured per type (troupe_actor_*{type=
  // "examples::chat::Room"}, tools/troupe_top).
  static constexpr bool kTypeMetrics = true;
  // `history`: earlier room lines (with newlines), oldest first. `history_path` empty: the
  // history lives in memory only.
  Room(std::string name, std::vector<std::string> history, std::string history_path);

  std::vector<Line> Handle(JoinRoom m);
  void Handle(LeaveRoom m);
  void Handle(SayInRoom m);
  std::vector<std::string> Handle(WhoInRoom);
  void Handle(FlushHistory, Promise<bool> done);

 private:
  void Broadcast(const Line& line, uint64_t except);

  const std::string name_;
  RoomHistory history_;
  absl::flat_hash_map<uint64_t, Member> members_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_ROOM_H_
