#include "kv_store.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace kv {

GetReply KvStore::Handle(const GetRequest& request) {
  GetReply reply;
  if (auto it = map_.find(request.key()); it != map_.end()) {
    reply.set_found(true);
    reply.set_value(it->second);
  }
  return reply;
}

absl::StatusOr<PutReply> KvStore::Handle(PutRequest request) {
  if (request.key().empty()) return absl::InvalidArgumentError("empty key");
  WatchEvent event;
  event.set_kind(WatchEvent::PUT);
  event.set_key(request.key());
  event.set_value(request.value());
  PutReply reply;
  reply.set_replaced(!map_.insert_or_assign(std::move(*request.mutable_key()),
                                            std::move(*request.mutable_value()))
                          .second);
  Publish(event);
  return reply;
}

DeleteReply KvStore::Handle(const DeleteRequest& request) {
  DeleteReply reply;
  reply.set_deleted(map_.erase(request.key()) > 0);
  if (reply.deleted()) {
    WatchEvent event;
    event.set_kind(WatchEvent::DELETE);
    event.set_key(request.key());
    Publish(event);
  }
  return reply;
}

void KvStore::Handle(NewWatch watch) {
  if (watches_.size() >= options_.max_watches) {
    watch.stream.Finish(absl::ResourceExhaustedError("too many watches"));
    return;
  }
  const uint64_t id = watch.stream.id();
  if (!watch.stream.Start(self()).ok()) return;
  watches_.emplace(id, Watch{std::move(watch.stream), "", false});
}

void KvStore::Handle(troupe::GrpcReceived<WatchRequest> request) {
  auto it = watches_.find(request.call_id);
  if (it == watches_.end()) return;
  Watch& watch = it->second;
  watch.prefix = request.message.prefix();
  watch.started = true;
  absl::Status sent;
  for (const auto& [key, value] : map_) {
    if (!absl::StartsWith(key, watch.prefix)) continue;
    WatchEvent event;
    event.set_kind(WatchEvent::PUT);
    event.set_key(key);
    event.set_value(value);
    sent = watch.stream.Write(std::move(event));
    if (!sent.ok()) break;
  }
  if (sent.ok()) {
    WatchEvent done;
    done.set_kind(WatchEvent::SNAPSHOT_DONE);
    sent = watch.stream.Write(std::move(done));
  }
  if (!sent.ok()) watches_.erase(it);  // the call already ended with the reason
}

void KvStore::Handle(troupe::GrpcCallCancelled ended) { watches_.erase(ended.call_id); }

void KvStore::Publish(const WatchEvent& event) {
  std::vector<uint64_t> ended;
  for (auto& [id, watch] : watches_) {
    if (!watch.started || !absl::StartsWith(event.key(), watch.prefix)) continue;
    if (!watch.stream.Write(event).ok()) ended.push_back(id);
  }
  for (uint64_t id : ended) watches_.erase(id);
}

}  // namespace kv
