#include "examples/chat/cluster_room.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/chat/chat_protocol.h"
#include "framework/log/log.h"

namespace troupe::chat {

ClusterRoom::ClusterRoom(troupe::cluster::VirtualIdentity identity, std::shared_ptr<ChatNode> node)
    : name_(std::move(identity.id)), node_(std::move(node)) {}

void ClusterRoom::OnStart() {
  node_->directory.AddHosted(name_, self());
  const std::string path = RoomHistoryPath(node_->history_dir, name_);
  LoadRoomHistory(ctx(), name_, path, [this, path](std::vector<std::string> lines) {
    history_.emplace(name_, path, std::move(lines));
    while (!before_loaded_.empty()) {
      auto fn = std::move(before_loaded_.front());
      before_loaded_.pop_front();
      fn();
    }
  });
  ctx().RunAfter(kStubRefresh, [this] { Sweep(); });
}

void ClusterRoom::OnStop() { node_->directory.RemoveHosted(name_, ctx().id()); }

void ClusterRoom::WhenLoaded(absl::AnyInvocable<void()> fn) {
  if (history_) {
    fn();
  } else {
    before_loaded_.push_back(std::move(fn));
  }
}

ClusterRoom::NodeMembers& ClusterRoom::Heard(const std::string& node,
                                             const std::string& address) {
  // A node that joined again keeps its entry: its stub's next refresh says which of its
  // sessions are still there (the others are announced as gone).
  NodeMembers& n = nodes_[node];
  n.address = address;
  n.heard = ctx().Now();
  return n;
}

ClusterRoom::NodeMembers& ClusterRoom::Heard(const wire::RoomMember& member) {
  return Heard(member.node(), member.address());
}

bool ClusterRoom::Add(const wire::RoomMember& member) {
  NodeMembers& n = Heard(member);
  if (!n.members.try_emplace(member.session(), member).second) return false;
  AnnounceIfSwept(member.node(), member);
  return true;
}

void ClusterRoom::AnnounceIfSwept(const std::string& node, const wire::RoomMember& member) {
  if (swept_.erase({node, member.session()}) == 0) return;
  Announce(absl::StrCat(member.nick(), " joined ", name_), node, member.session());
}

void ClusterRoom::Handle(wire::RoomJoin m) {
  WhenLoaded([this, m = std::move(m)] {
    const wire::RoomMember& member = m.member();
    wire::RoomLines welcome;
    welcome.set_room(name_);
    welcome.set_only_session(member.session());
    swept_.erase({member.node(), member.session()});  // announced as joining below
    if (!Add(member)) {
      welcome.add_lines(ErrorLine(absl::StrCat("already in ", name_)));
    } else {
      welcome.add_lines(InfoLine(absl::StrCat("joined ", name_)));
      for (const std::string& line : history_->lines()) welcome.add_lines(HistoryLine(line));
    }
    // The welcome goes first: the joiner's later lines follow it on the same path.
    SendTo(member.node(), member.address(), std::move(welcome));
    Announce(absl::StrCat(member.nick(), " joined ", name_), member.node(), member.session());
  });
}

void ClusterRoom::Handle(wire::RoomLeave m) {
  WhenLoaded([this, m = std::move(m)] {
    auto n = nodes_.find(m.node());
    if (n == nodes_.end()) return;
    auto it = n->second.members.find(m.session());
    if (it == n->second.members.end()) return;
    const std::string nick = it->second.nick();
    n->second.members.erase(it);
    Announce(absl::StrCat(nick, " left ", name_), m.node(), m.session());
  });
}

void ClusterRoom::Handle(wire::RoomSay m) {
  WhenLoaded([this, m = std::move(m)] {
    const wire::RoomMember& member = m.member();
    Add(member);  // a member this activation did not know yet (the room moved): silently
    std::string line = RoomLine(name_, member.nick(), m.text());
    for (auto& [node, n] : nodes_) {
      if (n.members.empty()) continue;
      wire::RoomLines lines;
      lines.set_room(name_);
      lines.add_lines(line);
      if (node == member.node()) {
        lines.set_origin_node(node);
        lines.set_origin_sequence(m.sequence());
      }
      SendTo(node, n.address, std::move(lines));
    }
    history_->Add(ctx(), std::move(line));
  });
}

void ClusterRoom::Handle(wire::RoomRefresh m) {
  WhenLoaded([this, m = std::move(m)] {
    NodeMembers& n = Heard(m.node(), m.address());
    std::map<uint64_t, wire::RoomMember> now;
    for (const wire::RoomMember& member : m.members()) now.emplace(member.session(), member);
    // Members whose leave this activation never saw (it came to the room's earlier one).
    std::vector<std::pair<uint64_t, std::string>> gone;
    for (const auto& [session, member] : n.members) {
      if (!now.contains(session)) gone.emplace_back(session, member.nick());
    }
    std::vector<wire::RoomMember> added;
    for (const auto& [session, member] : now) {
      if (!n.members.contains(session)) added.push_back(member);
    }
    n.members = std::move(now);
    for (const wire::RoomMember& member : added) AnnounceIfSwept(m.node(), member);
    for (const auto& [session, nick] : gone) {
      Announce(absl::StrCat(nick, " left ", name_), m.node(), session);
    }
  });
}

void ClusterRoom::Handle(wire::RoomWho, Promise<wire::RoomNicks> nicks) {
  WhenLoaded([this, nicks = std::move(nicks)]() mutable {
    wire::RoomNicks reply;
    for (const auto& [node, n] : nodes_) {
      for (const auto& [session, member] : n.members) reply.add_nicks(member.nick());
    }
    nicks.Reply(std::move(reply));
  });
}

void ClusterRoom::Handle(wire::RoomFlush, Promise<wire::RoomFlushed> done) {
  WhenLoaded([this, done = std::move(done)]() mutable {
    history_->Flush([done = std::move(done)](bool ok) mutable {
      wire::RoomFlushed reply;
      reply.set_ok(ok);
      done.Reply(std::move(reply));
    });
  });
}

void ClusterRoom::Announce(const std::string& text, const std::string& except_node,
                           uint64_t except_session) {
  const std::string line = InfoLine(text);
  for (auto& [node, n] : nodes_) {
    if (n.members.empty()) continue;
    wire::RoomLines lines;
    lines.set_room(name_);
    lines.add_lines(line);
    if (node == except_node) lines.set_except_session(except_session);
    SendTo(node, n.address, std::move(lines));
  }
}

void ClusterRoom::SendTo(const std::string& node, const std::string& address,
                         wire::RoomLines lines) {
  if (node == node_->name) {
    node_->directory.DeliverToStub(std::move(lines));
    return;
  }
  absl::StatusOr<ActorRef<NodeInboxProtocol>> inbox = node_->InboxAt(address);
  if (!inbox.ok()) {
    Log(absl::LogSeverity::kWarning, "chat: a room cannot reach a node",
        {{"room", name_}, {"node", node}, {"why", inbox.status().ToString()}});
    return;
  }
  inbox->Tell(std::move(lines));
}

void ClusterRoom::Sweep() {
  const absl::Time now = ctx().Now();
  std::vector<std::string> silent;
  for (const auto& [node, n] : nodes_) {
    if (now - n.heard > kNodeSilence) silent.push_back(node);
  }
  for (const std::string& node : silent) {
    NodeMembers n = std::move(nodes_[node]);
    nodes_.erase(node);
    for (const auto& [session, member] : n.members) {
      Announce(absl::StrCat(member.nick(), " left ", name_), "", 0);
      swept_[{node, session}] = now;
    }
  }
  std::erase_if(swept_, [&](const auto& e) { return now - e.second > absl::Minutes(1); });
  ctx().RunAfter(kStubRefresh, [this] { Sweep(); });
}

}  // namespace troupe::chat
