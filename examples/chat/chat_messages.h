// The messages between the chat server's actors: sessions (one per client), rooms (one per
// room: it orders the room's messages) and the lobby (nicks and the room directory).
#ifndef EXAMPLES_CHAT_CHAT_MESSAGES_H_
#define EXAMPLES_CHAT_CHAT_MESSAGES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "examples/chat/output_pacer.h"
#include "framework/base/credit.h"
#include "framework/system/actor_system.h"

namespace troupe::chat {

// How a room or the lobby reaches one client, whatever its transport (TCP or gRPC).
struct Member {
  uint64_t id = 0;
  std::string nick;
  std::function<void(Line)> send;   // tells the member's session actor; any thread
  std::function<void(Line)> close;  // the same, then disconnects the client (it leaves all)
};

// To a session: write this line to the client (and then disconnect it, with `close`).
struct Output {
  Line line;
  bool close = false;
};

struct JoinRoom {  // answered with "* joined ROOM" and the history, for the joiner to write
  Member member;
};
struct LeaveRoom {  // the others hear "* NICK left ROOM"
  uint64_t id;
};
struct SayInRoom {
  uint64_t id;
  std::string text;
  Credit credit;  // the sender's flow control: returned once every member passed it on
};
struct WhoInRoom {};
struct FlushHistory {};  // answered once every message so far is in the history file
using RoomProtocol =
    Protocol<Request<JoinRoom, std::vector<Line>>, LeaveRoom, SayInRoom,
             Request<WhoInRoom, std::vector<std::string>>, Request<FlushHistory, bool>>;
using RoomRef = ActorRef<RoomProtocol>;

struct ClaimNick {
  std::string nick;
  std::string old_nick;  // released if the claim succeeds
  Member member;
};
struct ReleaseNick {
  std::string nick;
  uint64_t id;
};
struct OpenRoom {  // finds or creates (loading its history)
  std::string name;
};
struct FindRoom {
  std::string name;
};
struct ListRooms {};
struct AllRooms {};
struct SendPrivate {  // answered false if nobody has that nick
  std::string to;
  std::string text;
  Member sender;
};
// The lobby: Lobby in one process, ClusterLobby in a cluster. AllRooms: the rooms to flush at
// shutdown (a cluster node's stubs; their rooms' history is flushed where they live).
using LobbyProtocol = Protocol<Request<ClaimNick, bool>, ReleaseNick, Request<OpenRoom, RoomRef>,
                               Request<FindRoom, std::optional<RoomRef>>,
                               Request<ListRooms, std::vector<std::string>>,
                               Request<AllRooms, std::vector<RoomRef>>, Request<SendPrivate, bool>>;
using LobbyRef = ActorRef<LobbyProtocol>;

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_MESSAGES_H_
