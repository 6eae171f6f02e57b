// Recorder: records a real run of an ActorSystem (any scheduler, any number of workers) so that
// a replay (framework/testing/replay.h) can run the same actors again in the same order:
//
//   auto recorder = std::make_shared<troupe::Recorder>();
//   troupe::ActorSystemOptions options;
//   options.recorder = recorder;                 // before anything is spawned
//   auto system = troupe::ActorSystem::Create(options);
//   ... run the service ...
//   (*system)->Shutdown();
//   troupe::Recording recording = recorder->Finish();
//   (void)recording.WriteFile("/tmp/run.rec");
//
// It writes down, per actor, each message it handles, named by who sent it and the sender's
// count of sends to it (the same message has the same name in the replay); for messages from
// outside any actor (bytes received, a connection closed, a stop at shutdown) also their
// content, where the message type has a codec (framework/actor/record_codec.h); and what each
// actor writes to its sockets. What it costs: docs/simulation.md.
//
// Thread safety: the hooks are called by the system (record_hooks.h). Finish() once, after the
// system has shut down (every turn is over).
#ifndef FRAMEWORK_RECORD_RECORDER_H_
#define FRAMEWORK_RECORD_RECORDER_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/actor/record_hooks.h"
#include "framework/base/mutex.h"
#include "framework/record/recording.h"

namespace troupe {

class Recorder final : public internal::RecordHooks {
 public:
  Recorder() = default;
  ~Recorder() override = default;

  Recording Finish();

  internal::ActorTrack* Spawned(uint64_t id, std::string_view type,
                                internal::ActorTrack* spawner) override;
  Envelope* Next(internal::ActorTrack& track, absl::FunctionRef<Envelope*()> pop,
                 absl::FunctionRef<Envelope*()> pop_any) override;
  void Output(internal::ActorTrack& track, std::string_view bytes) override;
  std::vector<Envelope*> Stopped(internal::ActorTrack&) override { return {}; }

 private:
  struct Entry {
    internal::MessageOrigin origin;
    const MessageInfo* info;
    uint32_t tag;
    bool system;
    int32_t content = -1;  // index into the actor's contents; -1: none
  };
  struct Actor : internal::ActorTrack {
    std::string type;
    uint64_t spawner = 0, spawn_index = 0;
    std::vector<Entry> handled;        // written by the actor's turns only
    std::vector<std::string> contents;
    std::string output;
  };
  Mutex mu_;
  std::deque<Actor> actors_ ABSL_GUARDED_BY(mu_);  // stable addresses: cells point into it
  uint64_t outside_spawns_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace troupe

#endif  // FRAMEWORK_RECORD_RECORDER_H_
