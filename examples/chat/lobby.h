// Lobby: the chat server's directory. It owns the nicks (one client each) and the rooms (made
// on first join; with a history directory, a room's file is read through the executor before
// the room starts), lists them, and routes private messages.
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_LOBBY_H_
#define EXAMPLES_CHAT_LOBBY_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "examples/chat/chat_messages.h"

namespace troupe::chat {

class Lobby : public Actor<Lobby, LobbyProtocol> {
 public:
  // `history_dir` empty: rooms keep their history in memory only.
  explicit Lobby(std::string history_dir) : history_dir_(std::move(history_dir)) {}

  bool Handle(ClaimNick m);
  void Handle(ReleaseNick m);
  void Handle(OpenRoom m, Promise<RoomRef> room);
  std::optional<RoomRef> Handle(FindRoom m);
  std::vector<std::string> Handle(ListRooms);
  std::vector<RoomRef> Handle(AllRooms);
  bool Handle(SendPrivate m);

 private:
  void CreateRoom(const std::string& name, std::vector<std::string> history);

  const std::string history_dir_;
  absl::flat_hash_map<std::string, Member> nicks_;
  std::map<std::string, RoomRef> rooms_;
  absl::flat_hash_map<std::string, std::vector<Promise<RoomRef>>> loading_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_LOBBY_H_
