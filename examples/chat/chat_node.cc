#include "examples/chat/chat_node.h"

namespace troupe::chat {

bool NodeDirectory::AddNick(const std::string& nick, Member member) {
  member.nick = nick;  // a session's Member carries the nick it had when it asked
  MutexLock lock(&mu_);
  auto [it, added] = nicks_.try_emplace(nick, member);
  if (!added && it->second.id != member.id) return false;
  it->second = std::move(member);
  return true;
}

void NodeDirectory::RemoveNick(const std::string& nick, uint64_t id) {
  MutexLock lock(&mu_);
  auto it = nicks_.find(nick);
  if (it != nicks_.end() && it->second.id == id) nicks_.erase(it);
}

std::optional<Member> NodeDirectory::FindNick(const std::string& nick) const {
  MutexLock lock(&mu_);
  auto it = nicks_.find(nick);
  if (it == nicks_.end()) return std::nullopt;
  return it->second;
}

std::vector<Member> NodeDirectory::Nicks() const {
  MutexLock lock(&mu_);
  std::vector<Member> members;
  members.reserve(nicks_.size());
  for (const auto& [nick, member] : nicks_) members.push_back(member);
  return members;
}

void NodeDirectory::AddStub(const std::string& room, RoomRef stub) {
  MutexLock lock(&mu_);
  stubs_[room] = Stub{std::move(stub), nullptr};
}

void NodeDirectory::SetDeliver(const std::string& room, uint64_t stub_id, Deliver deliver) {
  MutexLock lock(&mu_);
  auto it = stubs_.find(room);
  if (it != stubs_.end() && it->second.ref.id() == stub_id) it->second.deliver = std::move(deliver);
}

std::optional<RoomRef> NodeDirectory::FindStub(const std::string& room) const {
  MutexLock lock(&mu_);
  auto it = stubs_.find(room);
  if (it == stubs_.end()) return std::nullopt;
  return it->second.ref;
}

std::vector<RoomRef> NodeDirectory::Stubs() const {
  MutexLock lock(&mu_);
  std::vector<RoomRef> stubs;
  stubs.reserve(stubs_.size());
  for (const auto& [room, stub] : stubs_) stubs.push_back(stub.ref);
  return stubs;
}

void NodeDirectory::RemoveStub(const std::string& room, uint64_t stub_id) {
  MutexLock lock(&mu_);
  auto it = stubs_.find(room);
  if (it != stubs_.end() && it->second.ref.id() == stub_id) stubs_.erase(it);
}

bool NodeDirectory::DeliverToStub(wire::RoomLines lines) const {
  Deliver deliver;
  {
    MutexLock lock(&mu_);
    auto it = stubs_.find(lines.room());
    if (it == stubs_.end() || !it->second.deliver) return false;
    deliver = it->second.deliver;
  }
  deliver(std::move(lines));  // tells the stub: never runs its code here
  return true;
}

void NodeDirectory::AddHosted(const std::string& room, ClusterRoomRef ref) {
  MutexLock lock(&mu_);
  hosted_[room] = std::move(ref);
}

void NodeDirectory::RemoveHosted(const std::string& room, uint64_t id) {
  MutexLock lock(&mu_);
  auto it = hosted_.find(room);
  if (it != hosted_.end() && it->second.id() == id) hosted_.erase(it);
}

std::vector<ClusterRoomRef> NodeDirectory::Hosted() const {
  MutexLock lock(&mu_);
  std::vector<ClusterRoomRef> rooms;
  rooms.reserve(hosted_.size());
  for (const auto& [room, ref] : hosted_) rooms.push_back(ref);
  return rooms;
}

wire::RoomMember ChatNode::WireMember(const Member& member) const {
  wire::RoomMember m;
  m.set_node(name);
  m.set_incarnation(cluster->incarnation());
  m.set_address(address);
  m.set_session(member.id);
  m.set_nick(member.nick);
  return m;
}

}  // namespace troupe::chat
