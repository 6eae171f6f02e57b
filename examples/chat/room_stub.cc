#include "examples/chat/room_stub.h"

#include <cstdio>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "examples/chat/chat_protocol.h"
#include "examples/chat/cluster_room.h"
#include "framework/log/log.h"

namespace troupe::chat {

RoomStub::RoomStub(std::string room, std::shared_ptr<ChatNode> node)
    : room_(std::move(room)), node_(std::move(node)) {}

void RoomStub::OnStart() {
  absl::StatusOr<ClusterRoomRef> room = node_->cluster->Get<ClusterRoomProtocol>(kRoomKind, room_);
  if (!room.ok()) {
    Log(absl::LogSeverity::kWarning, "chat: no room", {{"room", room_}, {"why", room.status().ToString()}});
    node_->directory.RemoveStub(room_, ctx().id());
    ctx().Stop();
    return;
  }
  room_ref_ = *room;
  node_->directory.SetDeliver(room_, ctx().id(), ctx().Callback([this](wire::RoomLines lines) {
    OnLines(std::move(lines));
  }));
  idle_since_ = ctx().Now();
  ctx().RunAfter(kStubRefresh, [this] { Tick(); });
}

void RoomStub::Handle(JoinRoom m, Promise<std::vector<Line>> welcome) {
  const uint64_t id = m.member.id;
  if (members_.contains(id)) {
    welcome.Reply({MakeLine(ErrorLine(absl::StrCat("already in ", room_)))});
    return;
  }
  wire::RoomJoin join;
  *join.mutable_member() = node_->WireMember(m.member);
  members_.emplace(id, std::move(m.member));
  joining_.emplace(id, Joining{std::move(welcome), ctx().Now()});
  room_ref_.Tell(std::move(join));
}

void RoomStub::Handle(LeaveRoom m) {
  if (members_.erase(m.id) == 0) return;
  joining_.erase(m.id);  // its session asked no more
  wire::RoomLeave leave;
  leave.set_node(node_->name);
  leave.set_session(m.id);
  room_ref_.Tell(std::move(leave));
}

void RoomStub::Handle(SayInRoom m) {
  auto it = members_.find(m.id);
  if (it == members_.end()) return;  // left meanwhile: the session told its client already
  wire::RoomSay say;
  *say.mutable_member() = node_->WireMember(it->second);
  say.set_text(std::move(m.text));
  say.set_sequence(++sequence_);
  said_.push_back({sequence_, m.id, std::move(m.credit), ctx().Now()});
  room_ref_.Tell(std::move(say));
}

void RoomStub::Handle(WhoInRoom, Promise<std::vector<std::string>> nicks) {
  auto promise = std::make_shared<Promise<std::vector<std::string>>>(std::move(nicks));
  ctx().Ask(room_ref_, wire::RoomWho{}, kJoinTimeout, [promise](absl::StatusOr<wire::RoomNicks> r) {
    if (!r.ok()) {
      promise->Fail(r.status());
      return;
    }
    promise->Reply(std::vector<std::string>(r->nicks().begin(), r->nicks().end()));
  });
}

void RoomStub::Handle(FlushHistory, Promise<bool> done) {
  auto promise = std::make_shared<Promise<bool>>(std::move(done));
  ctx().Ask(room_ref_, wire::RoomFlush{}, kJoinTimeout,
            [promise](absl::StatusOr<wire::RoomFlushed> r) { promise->Reply(r.ok() && r->ok()); });
}

void RoomStub::OnLines(wire::RoomLines lines) {
  if (lines.only_session() != 0) {  // a joiner's welcome
    auto it = joining_.find(lines.only_session());
    if (it == joining_.end()) return;  // it left, or gave up waiting
    std::vector<Line> welcome;
    for (std::string& line : *lines.mutable_lines()) welcome.push_back(MakeLine(std::move(line)));
    it->second.welcome.Reply(std::move(welcome));
    joining_.erase(it);
    return;
  }
  // A line this node's member said carries its credit to the members here.
  Credit credit;
  if (lines.origin_node() == node_->name) {
    // Lines said before it that did not come back never will (one path per owner, in order).
    absl::flat_hash_set<uint64_t> lost;
    while (!said_.empty() && said_.front().sequence < lines.origin_sequence()) {
      lost.insert(said_.front().sender);
      said_.pop_front();
    }
    TellLost(lost);
    if (!said_.empty() && said_.front().sequence == lines.origin_sequence()) {
      credit = std::move(said_.front().credit);
      said_.pop_front();
    }
  }
  for (std::string& text : *lines.mutable_lines()) {
    auto paced = std::make_shared<std::pair<const std::string, Credit>>(std::move(text),
                                                                        std::move(credit));
    const Line line(paced, &paced->first);
    for (const auto& [id, member] : members_) {
      // A joiner hears the room from its welcome on; nobody hears what it excludes.
      if (id == lines.except_session() || joining_.contains(id)) continue;
      member.send(line);
    }
  }
}

void RoomStub::TellLost(const absl::flat_hash_set<uint64_t>& senders) {
  for (uint64_t sender : senders) {
    auto it = members_.find(sender);
    if (it == members_.end()) continue;
    it->second.send(MakeLine(ErrorLine(
        absl::StrCat(room_, " did not answer (it is moving to another node): what you said "
                            "there in the last seconds may be lost"))));
  }
}

void RoomStub::Tick() {
  const absl::Time now = ctx().Now();
  absl::flat_hash_set<uint64_t> lost;  // senders of lines the room never sent back
  while (!said_.empty() && now - said_.front().at > kCreditTimeout) {
    lost.insert(said_.front().sender);
    said_.pop_front();
  }
  TellLost(lost);
  for (auto it = joining_.begin(); it != joining_.end();) {
    if (now - it->second.since <= kJoinTimeout) {
      ++it;
      continue;
    }
    it->second.welcome.Fail(absl::UnavailableError(absl::StrCat("room ", room_, " did not answer")));
    members_.erase(it->first);
    joining_.erase(it++);
  }
  if (!members_.empty()) idle_since_ = now;
  if (members_.empty()) {
    if (now - idle_since_ >= kStubIdle) {
      node_->directory.RemoveStub(room_, ctx().id());
      ctx().Stop();
      return;
    }
  } else {
    wire::RoomRefresh refresh;
    refresh.set_node(node_->name);
    refresh.set_incarnation(node_->cluster->incarnation());
    refresh.set_address(node_->address);
    for (const auto& [id, member] : members_) *refresh.add_members() = node_->WireMember(member);
    room_ref_.Tell(std::move(refresh));
  }
  ctx().RunAfter(kStubRefresh, [this] { Tick(); });
}

}  // namespace troupe::chat
