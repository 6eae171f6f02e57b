// Room: one chat room. It is the one place the room's messages are ordered, so every member
// sees them in the same order. A message's line carries its sender's flow-control credit to
// every member (see OutputPacer): a sender is paced to the members that read. It keeps the last 100 messages for joiners and, with a history
// file, appends every message to it through the executor (one append in flight at a time, so
// the file keeps the room's order), never on a worker.
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_ROOM_H_
#define EXAMPLES_CHAT_ROOM_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "examples/chat/chat_messages.h"

namespace troupe::chat {

inline constexpr size_t kHistoryLines = 100;

class Room : public Actor<Room, RoomProtocol> {
 public:
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
  void StartAppend();

  const std::string name_;
  const std::string history_path_;
  std::deque<std::string> history_;
  absl::flat_hash_map<uint64_t, Member> members_;
  std::string unwritten_;  // appended lines not yet handed to the executor
  bool appending_ = false;
  std::vector<Promise<bool>> flush_waiters_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_ROOM_H_
