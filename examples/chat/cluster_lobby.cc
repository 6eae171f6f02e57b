#include "examples/chat/cluster_lobby.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "examples/chat/chat_protocol.h"
#include "examples/chat/room_stub.h"

namespace troupe::chat {

namespace {
std::string NickName(const std::string& nick) { return absl::StrCat(kNickPrefix, nick); }
}  // namespace

void ClusterLobby::OnStart() {
  incarnation_ = node_->cluster->incarnation();
  ctx().RunAfter(absl::Seconds(1), [this] { CheckIncarnation(); });
}

void ClusterLobby::Handle(ClaimNick m, Promise<bool> ok) {
  if (std::optional<Member> holder = node_->directory.FindNick(m.nick)) {
    ok.Reply(holder->id == m.member.id);  // held here: by this session, or by another
    return;
  }
  if (!claiming_.insert(m.nick).second) {  // another session here is claiming it
    ok.Reply(false);
    return;
  }
  auto promise = std::make_shared<Promise<bool>>(std::move(ok));
  std::string name = NickName(m.nick);  // before `m` moves into the callback
  node_->cluster->ClaimName(
      std::move(name),
      ctx().Callback([this, m = std::move(m), promise](absl::StatusOr<troupe::cluster::Claim> claim) {
        claiming_.erase(m.nick);
        if (!claim.ok()) {
          promise->Fail(absl::UnavailableError(
              absl::StrCat("nicks cannot be checked now: ", claim.status().message())));
          return;
        }
        if (!claim->ours || !node_->directory.AddNick(m.nick, m.member)) {
          promise->Reply(false);
          return;
        }
        if (!m.old_nick.empty() && m.old_nick != m.nick) {
          node_->directory.RemoveNick(m.old_nick, m.member.id);
          ReleaseLater(m.old_nick);
        }
        promise->Reply(true);
      }));
}

void ClusterLobby::Handle(ReleaseNick m) {
  node_->directory.RemoveNick(m.nick, m.id);
  ReleaseLater(m.nick);
}

void ClusterLobby::ReleaseLater(const std::string& nick) {
  ctx().RunAfter(kNickGrace, [this, nick] {
    if (!node_->directory.FindNick(nick) && !claiming_.contains(nick)) {
      node_->cluster->ReleaseName(NickName(nick));
    }
  });
}

absl::StatusOr<RoomRef> ClusterLobby::StubFor(const std::string& room) {
  if (std::optional<RoomRef> stub = node_->directory.FindStub(room)) return *stub;
  absl::StatusOr<RoomRef> stub = ctx().Spawn<RoomStub>(room, node_);
  if (stub.ok()) node_->directory.AddStub(room, *stub);
  return stub;
}

RoomRef ClusterLobby::Handle(OpenRoom m) {
  absl::StatusOr<RoomRef> stub = StubFor(m.name);
  return stub.ok() ? *stub : RoomRef();  // an empty ref: the join fails, the client is told
}

void ClusterLobby::Handle(FindRoom m, Promise<std::optional<RoomRef>> room) {
  if (std::optional<RoomRef> stub = node_->directory.FindStub(m.name)) {
    room.Reply(stub);
    return;
  }
  auto promise = std::make_shared<Promise<std::optional<RoomRef>>>(std::move(room));
  node_->cluster->ReadActivations(
      kRoomKind, ctx().Callback([this, name = m.name,
                                 promise](absl::StatusOr<std::vector<std::string>> active) {
        if (!active.ok()) {
          promise->Fail(active.status());
          return;
        }
        if (!std::binary_search(active->begin(), active->end(), name)) {
          promise->Reply(std::nullopt);
          return;
        }
        absl::StatusOr<RoomRef> stub = StubFor(name);
        if (!stub.ok()) {
          promise->Fail(stub.status());
        } else {
          promise->Reply(*stub);
        }
      }));
}

void ClusterLobby::Handle(ListRooms, Promise<std::vector<std::string>> names) {
  auto promise = std::make_shared<Promise<std::vector<std::string>>>(std::move(names));
  node_->cluster->ReadActivations(
      kRoomKind, [promise](absl::StatusOr<std::vector<std::string>> active) {
        if (active.ok()) {
          promise->Reply(*std::move(active));
        } else {
          promise->Fail(active.status());
        }
      });
}

std::vector<RoomRef> ClusterLobby::Handle(AllRooms) { return node_->directory.Stubs(); }

void ClusterLobby::Handle(SendPrivate m, Promise<bool> sent) {
  std::string line = PrivateLine(m.sender.nick, m.text);
  if (std::optional<Member> to = node_->directory.FindNick(m.to)) {
    to->send(MakeLine(std::move(line)));
    sent.Reply(true);
    return;
  }
  auto promise = std::make_shared<Promise<bool>>(std::move(sent));
  std::string name = NickName(m.to);
  node_->cluster->ReadNames(
      std::move(name),
      ctx().Callback([this, to = m.to, line = std::move(line),
                      promise](absl::StatusOr<troupe::cluster::MembershipProvider::ClaimList> names) {
        if (!names.ok()) {
          promise->Fail(names.status());
          return;
        }
        const std::string key = NickName(to);
        const troupe::cluster::ClusterMember* holder = nullptr;
        const troupe::cluster::MembershipView view = node_->cluster->view();
        for (const auto& [name, claim] : *names) {
          if (name == key && claim.owner != node_->name) holder = view.Find(claim.owner);
        }
        if (holder == nullptr) {
          promise->Reply(false);
          return;
        }
        absl::StatusOr<ActorRef<NodeInboxProtocol>> inbox = node_->InboxAt(holder->address);
        if (!inbox.ok()) {
          promise->Fail(inbox.status());
          return;
        }
        wire::PrivateLine pm;
        pm.set_to(to);
        pm.set_line(line);
        ctx().Ask(*inbox, std::move(pm), kJoinTimeout,
                  [promise](absl::StatusOr<wire::PrivateDelivered> delivered) {
                    promise->Reply(delivered.ok() && delivered->delivered());
                  });
      }));
}

void ClusterLobby::CheckIncarnation() {
  const uint64_t now = node_->cluster->incarnation();
  if (now != 0 && incarnation_ != 0 && now != incarnation_) {
    // Fenced and joined again: the nicks went with the old lease. Claim them again.
    for (const Member& member : node_->directory.Nicks()) reclaim_[member.nick] = member.id;
  }
  if (now != 0) incarnation_ = now;
  if (now != 0) Reclaim();
  ctx().RunAfter(absl::Seconds(1), [this] { CheckIncarnation(); });
}

void ClusterLobby::Reclaim() {
  for (const auto& [nick, id] : reclaim_) {
    node_->cluster->ClaimName(
        NickName(nick),
        ctx().Callback([this, nick = nick, id = id](absl::StatusOr<troupe::cluster::Claim> claim) {
          auto it = reclaim_.find(nick);
          if (it == reclaim_.end() || it->second != id) return;  // answered already
          if (!claim.ok()) return;  // the store did not answer: tried again in a second
          reclaim_.erase(it);
          if (claim->ours) return;
          std::optional<Member> member = node_->directory.FindNick(nick);
          if (!member || member->id != id) return;  // its session is gone meanwhile
          node_->directory.RemoveNick(nick, id);
          member->close(MakeLine(ErrorLine(absl::StrCat(
              "your nick ", nick,
              " was taken on another node while this one was out of the cluster"))));
        }));
  }
}

wire::PrivateDelivered NodeInbox::Handle(wire::PrivateLine m) {
  wire::PrivateDelivered reply;
  if (std::optional<Member> to = node_->directory.FindNick(m.to())) {
    to->send(MakeLine(m.line()));
    reply.set_delivered(true);
  }
  return reply;
}

}  // namespace troupe::chat
