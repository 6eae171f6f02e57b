#include "framework/actor/record_codec.h"

#include "absl/container/node_hash_map.h"
#include "framework/actor/record_hooks.h"
#include "framework/base/mutex.h"

namespace troupe::internal {
namespace {

struct Registry {
  Mutex mu;
  absl::node_hash_map<const MessageInfo*, RecordCodec> by_info ABSL_GUARDED_BY(mu);
  absl::node_hash_map<std::string_view, RecordCodec> by_name ABSL_GUARDED_BY(mu);
};

Registry& Codecs() {
  static auto* const registry = new Registry;  // used until exit
  return *registry;
}

}  // namespace

bool RegisterRecordCodec(const MessageInfo* info, RecordCodec codec) {
  Registry& r = Codecs();
  MutexLock lock(&r.mu);
  r.by_info.insert_or_assign(info, codec);
  r.by_name.insert_or_assign(info->name, codec);
  return true;
}

const RecordCodec* FindRecordCodec(const MessageInfo* info) {
  Registry& r = Codecs();
  MutexLock lock(&r.mu);
  auto it = r.by_info.find(info);
  return it == r.by_info.end() ? nullptr : &it->second;  // a node: stable while registering more
}

const RecordCodec* FindRecordCodec(std::string_view type_name) {
  Registry& r = Codecs();
  MutexLock lock(&r.mu);
  auto it = r.by_name.find(type_name);
  return it == r.by_name.end() ? nullptr : &it->second;
}

void NoteOutput(std::string_view bytes) {
  if (ActorTrack* track = tls_sending_track; track != nullptr && track->hooks != nullptr) {
    track->hooks->Output(*track, bytes);
  }
}

}  // namespace troupe::internal
