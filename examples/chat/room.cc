#include "examples/chat/room.h"

#include "absl/strings/str_cat.h"
#include "examples/chat/chat_protocol.h"

namespace troupe::chat {

Room::Room(std::string name, std::vector<std::string> history, std::string history_path)
    : name_(name), history_(std::move(name), std::move(history_path), std::move(history)) {}

std::vector<Line> Room::Handle(JoinRoom m) {
  Member& member = m.member;
  if (members_.contains(member.id)) {
    return {MakeLine(ErrorLine(absl::StrCat("already in ", name_)))};
  }
  std::vector<Line> welcome;
  welcome.reserve(history_.lines().size() + 1);
  welcome.push_back(MakeLine(InfoLine(absl::StrCat("joined ", name_))));
  for (const std::string& line : history_.lines()) welcome.push_back(MakeLine(HistoryLine(line)));
  Broadcast(MakeLine(InfoLine(absl::StrCat(member.nick, " joined ", name_))), member.id);
  const uint64_t id = member.id;
  members_.emplace(id, std::move(member));
  return welcome;
}

void Room::Handle(LeaveRoom m) {
  auto it = members_.find(m.id);
  if (it == members_.end()) return;
  const std::string nick = it->second.nick;
  members_.erase(it);
  Broadcast(MakeLine(InfoLine(absl::StrCat(nick, " left ", name_))), m.id);
}

void Room::Handle(SayInRoom m) {
  auto it = members_.find(m.id);
  if (it == members_.end()) return;  // left meanwhile: the session told its client already
  std::string line = RoomLine(name_, it->second.nick, m.text);
  // Every member's copy shares ownership of the sender's credit: it returns once the last
  // member passed the line on to its client, so the sender is paced to the members that read.
  auto paced = std::make_shared<std::pair<const std::string, Credit>>(line, std::move(m.credit));
  Broadcast(Line(paced, &paced->first), /*except=*/0);
  history_.Add(ctx(), std::move(line));
}

std::vector<std::string> Room::Handle(WhoInRoom) {
  std::vector<std::string> nicks;
  nicks.reserve(members_.size());
  for (const auto& [id, member] : members_) nicks.push_back(member.nick);
  return nicks;
}

void Room::Handle(FlushHistory, Promise<bool> done) {
  history_.Flush([done = std::move(done)](bool ok) mutable { done.Reply(ok); });
}

void Room::Broadcast(const Line& line, uint64_t except) {
  for (const auto& [id, member] : members_) {
    if (id != except) member.send(line);
  }
}

}  // namespace troupe::chat
