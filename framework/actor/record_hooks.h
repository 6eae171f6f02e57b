// The seam between the actor runtime and a recorder or replayer (framework/record,
// framework/testing:replay). A system created with ActorSystemOptions::recorder gives every
// actor an ActorTrack; while a tracked actor's turn runs, the messages it sends carry their
// origin (envelope_origin.h), and the hooks choose which envelope it handles next: a recorder
// takes the mailbox's next and writes it down, a replayer hands out the one the recording says.
// A system without hooks pays one thread-local test per send and one branch per turn.
//
// Thread safety: the hooks are called from the tracked actor's own turns (Next, Output,
// Stopped: one thread at a time per actor) and from any thread that spawns (Spawned).
#ifndef FRAMEWORK_ACTOR_RECORD_HOOKS_H_
#define FRAMEWORK_ACTOR_RECORD_HOOKS_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "framework/message/envelope.h"
#include "framework/message/envelope_origin.h"

namespace troupe::internal {

class RecordHooks;

// An actor's place in a recorded or replayed run (owned by the hooks; the cell points to it).
// A message is named by its sender and the sender's count of messages to that receiver: the
// order in which a handler sends to different actors (iterating a hash map, whose order
// differs between runs) does not change the names.
struct ActorTrack {
  uint64_t key = 0;      // the actor's id in the recorded run
  uint64_t spawned = 0;  // actors it has spawned
  // Non-zero: a stand-in for a send made later (a timer's): its one send gets this count.
  uint64_t fixed_seq = 0;
  RecordHooks* hooks = nullptr;
  absl::flat_hash_map<uint64_t, uint64_t> sent_to;  // receiver id -> messages sent to it

  MessageOrigin NextOrigin(uint64_t receiver) {
    return {key, fixed_seq != 0 ? fixed_seq : ++sent_to[receiver]};
  }
};

// The track whose sends are being made on this thread: the running tracked actor's.
inline thread_local ActorTrack* tls_sending_track __attribute__((tls_model("initial-exec"))) =
    nullptr;

class ScopedSendingTrack {
 public:
  explicit ScopedSendingTrack(ActorTrack* track) : saved_(tls_sending_track) {
    tls_sending_track = track;
  }
  ~ScopedSendingTrack() { tls_sending_track = saved_; }
  ScopedSendingTrack(const ScopedSendingTrack&) = delete;
  ScopedSendingTrack& operator=(const ScopedSendingTrack&) = delete;

 private:
  ActorTrack* const saved_;
};

// What the I/O layer sends to an actor comes from outside (its bytes are the run's inputs),
// even when it is sent from inside a turn (a write that failed at once, for instance).
class ScopedExternalSend : public ScopedSendingTrack {
 public:
  ScopedExternalSend() : ScopedSendingTrack(nullptr) {}
};

// A send to `receiver` made later on behalf of the running actor (a timer it arms now) gets its
// origin now, so the message is the same one in a replay however late the timer fires.
inline std::optional<MessageOrigin> ReserveOrigin(uint64_t receiver) {
  if (tls_sending_track == nullptr) return std::nullopt;
  return tls_sending_track->NextOrigin(receiver);
}

// The same for a send the running actor will get itself (an ask's timeout, a RunAfter).
inline std::optional<MessageOrigin> ReserveOriginToSelf() {
  if (tls_sending_track == nullptr) return std::nullopt;
  return tls_sending_track->NextOrigin(tls_sending_track->key);
}

class ScopedReservedOrigin {
 public:
  explicit ScopedReservedOrigin(const std::optional<MessageOrigin>& origin)
      : track_{.key = origin ? origin->sender : 0, .fixed_seq = origin ? origin->seq : 0},
        scope_(origin ? &track_ : nullptr) {}

 private:
  ActorTrack track_;
  ScopedSendingTrack scope_;
};

// Tags `e`, sent to actor `receiver`, with the running tracked actor's next origin (no-op
// elsewhere).
inline void NoteSender(Envelope* e, uint64_t receiver) {
  if (ActorTrack* track = tls_sending_track; track != nullptr) {
    AttachOrigin(e, track->NextOrigin(receiver));
  }
}

// Bytes the running actor wrote to the outside world (a socket): recorded, compared in replay.
void NoteOutput(std::string_view bytes);

class RecordHooks {
 public:
  virtual ~RecordHooks() = default;
  // A new actor of `type` is spawned by `spawner` (the running tracked actor; null from outside
  // any actor): its track, which lives as long as the hooks. Its key becomes the actor's id
  // (a recorder keeps the system's `id`; a replay gives the recorded one).
  virtual ActorTrack* Spawned(uint64_t id, std::string_view type, ActorTrack* spawner) = 0;
  // The envelope the actor handles next, or null (none can be handled now; a later arrival
  // reschedules it). `pop` takes the mailbox's next (null: empty); `pop_any` likewise, also
  // while the actor is suspended (system messages only for `pop`).
  virtual Envelope* Next(ActorTrack& track, absl::FunctionRef<Envelope*()> pop,
                         absl::FunctionRef<Envelope*()> pop_any) = 0;
  // After Next() returned null: true to stay runnable (the hooks will have something soon, a
  // replay's next input once its I/O has settled) instead of waiting for an arrival.
  virtual bool RetryLater(ActorTrack&) { return false; }
  virtual void Output(ActorTrack& track, std::string_view bytes) = 0;
  // The actor stops: the envelopes the hooks still hold for it (they become dead letters).
  virtual std::vector<Envelope*> Stopped(ActorTrack& track) = 0;
};

}  // namespace troupe::internal

#endif  // FRAMEWORK_ACTOR_RECORD_HOOKS_H_
