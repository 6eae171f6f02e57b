#include "examples/chat/lobby.h"

#include "examples/chat/chat_protocol.h"
#include "examples/chat/room.h"
#include "examples/chat/room_history.h"

namespace troupe::chat {

bool Lobby::Handle(ClaimNick m) {
  auto it = nicks_.find(m.nick);
  if (it != nicks_.end() && it->second.id != m.member.id) return false;
  if (!m.old_nick.empty() && m.old_nick != m.nick) {
    auto old = nicks_.find(m.old_nick);
    if (old != nicks_.end() && old->second.id == m.member.id) nicks_.erase(old);
  }
  nicks_[m.nick] = std::move(m.member);
  return true;
}

void Lobby::Handle(ReleaseNick m) {
  auto it = nicks_.find(m.nick);
  if (it != nicks_.end() && it->second.id == m.id) nicks_.erase(it);
}

void Lobby::Handle(OpenRoom m, Promise<RoomRef> room) {
  if (auto it = rooms_.find(m.name); it != rooms_.end()) {
    room.Reply(it->second);
    return;
  }
  std::vector<Promise<RoomRef>>& waiting = loading_[m.name];
  waiting.push_back(std::move(room));
  if (waiting.size() > 1) return;  // its history is being read already
  LoadRoomHistory(ctx(), m.name, RoomHistoryPath(history_dir_, m.name),
                  [this, name = m.name](std::vector<std::string> lines) {
                    CreateRoom(name, std::move(lines));
                  });
}

void Lobby::CreateRoom(const std::string& name, std::vector<std::string> history) {
  absl::StatusOr<RoomRef> room =
      ctx().Spawn<Room>(name, std::move(history), RoomHistoryPath(history_dir_, name));
  std::vector<Promise<RoomRef>> waiting = std::move(loading_[name]);
  loading_.erase(name);
  for (Promise<RoomRef>& p : waiting) {
    if (room.ok()) {
      p.Reply(*room);
    } else {
      p.Fail(room.status());
    }
  }
  if (room.ok()) rooms_.emplace(name, *room);
}

std::optional<RoomRef> Lobby::Handle(FindRoom m) {
  auto it = rooms_.find(m.name);
  if (it == rooms_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Lobby::Handle(ListRooms) {
  std::vector<std::string> names;
  for (const auto& [name, room] : rooms_) names.push_back(name);
  return names;
}

std::vector<RoomRef> Lobby::Handle(AllRooms) {
  std::vector<RoomRef> rooms;
  for (const auto& [name, room] : rooms_) rooms.push_back(room);
  return rooms;
}

bool Lobby::Handle(SendPrivate m) {
  auto it = nicks_.find(m.to);
  if (it == nicks_.end()) return false;
  it->second.send(MakeLine(PrivateLine(m.sender.nick, m.text)));
  return true;
}

}  // namespace troupe::chat
