#include "framework/record/recorder.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "framework/actor/record_codec.h"

namespace troupe {

internal::ActorTrack* Recorder::Spawned(uint64_t id, std::string_view type,
                                        internal::ActorTrack* spawner) {
  MutexLock lock(&mu_);
  // A timer's stand-in (ScopedReservedOrigin) spawns as if from outside.
  if (spawner != nullptr && spawner->hooks == nullptr) spawner = nullptr;
  Actor& actor = actors_.emplace_back();
  actor.key = id;
  actor.hooks = this;
  actor.type = std::string(type);
  actor.spawner = spawner != nullptr ? spawner->key : 0;
  actor.spawn_index = spawner != nullptr ? ++spawner->spawned : ++outside_spawns_;
  return &actor;
}

Envelope* Recorder::Next(internal::ActorTrack& track, absl::FunctionRef<Envelope*()> pop,
                         absl::FunctionRef<Envelope*()>) {
  Envelope* e = pop();
  if (e == nullptr) return nullptr;
  Actor& actor = static_cast<Actor&>(track);
  Entry& entry = actor.handled.emplace_back();
  entry.origin = internal::TakeOrigin(e);
  entry.info = e->info();
  entry.tag = e->tag();
  entry.system = e->priority() == Priority::kSystem;
  if (entry.origin.sender == 0) {  // from outside: its content is the run's input
    if (const internal::RecordCodec* codec = internal::FindRecordCodec(e->info())) {
      entry.content = static_cast<int32_t>(actor.contents.size());
      actor.contents.push_back(codec->encode(*e));
    }
  }
  return e;
}

void Recorder::Output(internal::ActorTrack& track, std::string_view bytes) {
  static_cast<Actor&>(track).output.append(bytes);
}

Recording Recorder::Finish() {
  record::Recording proto;
  absl::flat_hash_map<std::string_view, uint32_t> types;
  MutexLock lock(&mu_);
  for (Actor& actor : actors_) {
    record::ActorLog* log = proto.add_actors();
    log->set_key(actor.key);
    log->set_type(actor.type);
    log->set_spawner(actor.spawner);
    log->set_spawn_index(actor.spawn_index);
    log->set_output(std::move(actor.output));
    for (const Entry& entry : actor.handled) {
      auto [it, added] = types.try_emplace(entry.info->name, proto.types_size());
      if (added) proto.add_types(std::string(entry.info->name));
      record::Handled* h = log->add_handled();
      h->set_sender(entry.origin.sender);
      h->set_seq(entry.origin.seq);
      h->set_type(it->second);
      h->set_tag(entry.tag);
      h->set_system(entry.system);
      if (entry.content >= 0) {
        h->set_has_content(true);
        h->set_content(std::move(actor.contents[static_cast<size_t>(entry.content)]));
      }
    }
  }
  actors_.clear();
  return Recording(std::move(proto));
}

}  // namespace troupe
