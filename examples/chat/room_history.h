// RoomHistory: what a room remembers - its last kHistoryLines lines, for joiners - and, with a
// history file, every line appended to it through the executor, never on a worker (one append
// in flight at a time, so the file keeps the room's order). LoadRoomHistory reads a room's file
// back (through the executor) before the room starts. Used by the single-process Room and the
// cluster's ClusterRoom.
//
// Thread safety: owned by one room actor; every call on its turns, with its context.
#ifndef EXAMPLES_CHAT_ROOM_HISTORY_H_
#define EXAMPLES_CHAT_ROOM_HISTORY_H_

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "framework/system/actor_system.h"

namespace troupe::chat {

inline constexpr size_t kHistoryLines = 100;

// DIR/ROOM.log, or empty when `dir` is (history in memory only).
std::string RoomHistoryPath(const std::string& dir, const std::string& room);

// Reads the room's earlier lines (with newlines, oldest first) from `path` on the executor and
// hands them to `then` on the calling actor's turn: none if the file does not exist, or cannot
// be read (logged).
void LoadRoomHistory(ActorContext& ctx, const std::string& room, const std::string& path,
                     std::function<void(std::vector<std::string>)> then);

class RoomHistory {
 public:
  // `earlier`: the room's earlier lines, oldest first. `path` empty: memory only.
  RoomHistory(std::string room, std::string path, std::vector<std::string> earlier = {});

  void Add(ActorContext& ctx, std::string line);
  const std::deque<std::string>& lines() const { return lines_; }
  // `done(true)` once every line so far is in the file (at once without a file); false if an
  // append failed.
  void Flush(absl::AnyInvocable<void(bool)> done);

 private:
  void StartAppend(ActorContext& ctx);

  const std::string room_;
  const std::string path_;
  std::deque<std::string> lines_;
  std::string unwritten_;  // appended lines not yet handed to the executor
  bool appending_ = false;
  std::vector<absl::AnyInvocable<void(bool)>> flush_waiters_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_ROOM_HISTORY_H_
