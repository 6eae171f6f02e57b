#include "framework/testing/replay.h"

#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "framework/actor/record_codec.h"
#include "framework/actor/record_hooks.h"

namespace troupe::testing {

// The replay's hooks: per actor, its recorded log and how far it got, and the messages held
// back until their turn comes. Everything runs on the simulation's one thread (spawns too), so
// nothing here is locked.
class Replay::Replayer final : public internal::RecordHooks {
 public:
  Replayer(Recording recording, std::function<bool()> io_settled)
      : recording_(std::move(recording)), io_settled_(std::move(io_settled)) {
    const record::Recording& proto = recording_.proto();
    for (const record::ActorLog& log : proto.actors()) {
      by_spawn_[{log.spawner(), log.spawn_index()}] = &log;
    }
    unfinished_ = static_cast<size_t>(proto.actors_size());
  }

  internal::ActorTrack* Spawned(uint64_t, std::string_view type,
                                internal::ActorTrack* spawner) override {
    // A timer's stand-in (ScopedReservedOrigin) spawns as if from outside.
    if (spawner != nullptr && spawner->hooks == nullptr) spawner = nullptr;
    Actor& actor = actors_.emplace_back();
    actor.hooks = this;
    actor.type = std::string(type);
    const uint64_t spawner_key = spawner != nullptr ? spawner->key : 0;
    const uint64_t index = spawner != nullptr ? ++spawner->spawned : ++outside_spawns_;
    auto it = by_spawn_.find({spawner_key, index});
    if (it == by_spawn_.end() || it->second->type() != type) {
      actor.key = kUnrecordedKeys + actors_.size();  // sends from it match nothing recorded
      Diverged(absl::StrCat(
          "an actor of type ", std::string(type), " was spawned ",
          spawner_key == 0 ? std::string("from outside") : absl::StrCat("by actor ", spawner_key),
          " (spawn #", index, ") where the recording has ",
          it == by_spawn_.end() ? std::string("none")
                                : absl::StrCat("one of type ", it->second->type())));
      return &actor;
    }
    actor.log = it->second;
    actor.key = actor.log->key();
    by_spawn_.erase(it);
    if (actor.log->handled_size() == 0) --unfinished_;
    return &actor;
  }

  Envelope* Next(internal::ActorTrack& track, absl::FunctionRef<Envelope*()> pop,
                 absl::FunctionRef<Envelope*()> pop_any) override {
    Actor& actor = static_cast<Actor&>(track);
    if (finished_ || actor.log == nullptr || actor.at >= actor.log->handled_size()) {
      if (!actor.held.empty()) {  // free again: what was held back first, in arrival order
        Envelope* e = actor.held.front().envelope;
        actor.held.pop_front();
        return e;
      }
      return pop();
    }
    while (Envelope* e = pop_any()) {
      const internal::MessageOrigin origin = internal::TakeOrigin(e);
      if (origin.sender == 0 && internal::FindRecordCodec(e->info()) != nullptr) {
        DestroyEnvelope(e);  // a live input: the replay's inputs are the recorded ones
        continue;
      }
      actor.held.push_back({e, origin});
    }
    const record::Handled& want = actor.log->handled(actor.at);
    const std::string& type = recording_.proto().types(static_cast<int>(want.type()));
    Envelope* e = nullptr;
    if (want.sender() != 0 || !want.has_content()) {
      const internal::MessageOrigin origin{want.sender(), want.seq()};
      for (auto it = actor.held.begin(); it != actor.held.end(); ++it) {
        const bool match = want.sender() != 0
                               ? it->origin == origin
                               : it->origin.sender == 0 && it->envelope->info()->name == type;
        if (!match) continue;
        e = it->envelope;
        actor.held.erase(it);
        break;
      }
      if (e == nullptr) return nullptr;  // not sent yet: its arrival reschedules the actor
      if (e->info()->name != type) {
        Diverged(absl::StrCat(Where(actor), ": the recording has ", type, ", the replay ",
                              std::string(e->info()->name)));
      }
    } else {
      // An input from outside comes once what the actors wrote has reached the network, as it
      // had in the recorded run (a client answers what it has read).
      actor.awaiting_settled_io = !io_settled_();
      if (actor.awaiting_settled_io) return nullptr;
      const internal::RecordCodec* codec = internal::FindRecordCodec(type);
      absl::StatusOr<Envelope*> made =
          codec != nullptr ? codec->decode(want.content(), want.tag())
                           : absl::StatusOr<Envelope*>(absl::NotFoundError(
                                 absl::StrCat("no codec for ", type, " in this program")));
      if (!made.ok()) {
        Diverged(absl::StrCat(Where(actor), ": cannot make the recorded input: ",
                              made.status().message()));
        return nullptr;  // it stays where it is: Finish reports it
      }
      e = *made;
      if (want.system()) e->set_priority(Priority::kSystem);
    }
    if (++actor.at == actor.log->handled_size()) --unfinished_;
    return e;
  }

  bool RetryLater(internal::ActorTrack& track) override {
    return static_cast<Actor&>(track).awaiting_settled_io;
  }

  void Output(internal::ActorTrack& track, std::string_view bytes) override {
    Actor& actor = static_cast<Actor&>(track);
    const size_t at = actor.output.size();
    actor.output.append(bytes);
    if (finished_ || actor.log == nullptr || actor.output_diverged) return;
    const std::string& recorded = actor.log->output();
    for (size_t i = at; i < actor.output.size(); ++i) {
      if (i >= recorded.size() || recorded[i] != actor.output[i]) {
        actor.output_diverged = true;
        Diverged(absl::StrCat(
            Where(actor), ": wrote other bytes from byte ", i, ": recorded \"",
            absl::CEscape(recorded.substr(i, 40)), "\", replayed \"",
            absl::CEscape(actor.output.substr(i, 40)), "\""));
        return;
      }
    }
  }

  std::vector<Envelope*> Stopped(internal::ActorTrack& track) override {
    Actor& actor = static_cast<Actor&>(track);
    actor.stopped = true;
    std::vector<Envelope*> held;
    for (const Held& h : actor.held) held.push_back(h.envelope);
    actor.held.clear();
    return held;
  }

  bool done() const { return unfinished_ == 0; }

  absl::Status Finish() {
    finished_ = true;
    std::string problems = divergence_;
    auto add = [&problems](const std::string& what) {
      absl::StrAppend(&problems, problems.empty() ? "" : "; ", what);
    };
    std::string unfinished = Describe();
    if (!unfinished.empty()) add(unfinished);
    for (const Actor& actor : actors_) {
      if (actor.log == nullptr || actor.output_diverged) continue;
      if (actor.output.size() < actor.log->output().size()) {
        add(absl::StrCat("actor ", actor.key, " (", actor.type, ") wrote ", actor.output.size(),
                         " of the ", actor.log->output().size(), " bytes recorded"));
      }
    }
    if (problems.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("replay diverged: ", problems));
  }

  std::string Describe() const {
    std::string out;
    auto add = [&out](const std::string& what) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", what);
    };
    for (const auto& [spawn, log] : by_spawn_) {
      add(absl::StrCat("actor ", log->key(), " (", log->type(), ", spawn #", spawn.second,
                       spawn.first == 0 ? std::string(" from outside")
                                        : absl::StrCat(" of actor ", spawn.first),
                       ") was never spawned"));
    }
    for (const Actor& actor : actors_) {
      if (actor.log == nullptr || actor.at >= actor.log->handled_size()) continue;
      const record::Handled& want = actor.log->handled(actor.at);
      add(absl::StrCat(Where(actor), " waits for ",
                       recording_.proto().types(static_cast<int>(want.type())),
                       want.sender() != 0
                           ? absl::StrCat(", actor ", want.sender(), "'s send #", want.seq())
                           : std::string(" from outside"),
                       actor.stopped ? " but has stopped" : "", HeldBack(actor)));
    }
    return out;
  }

 private:
  static constexpr uint64_t kUnrecordedKeys = uint64_t{1} << 62;
  struct Held {
    Envelope* envelope;
    internal::MessageOrigin origin;
  };
  struct Actor : internal::ActorTrack {
    std::string type;
    const record::ActorLog* log = nullptr;  // null: not in the recording
    int at = 0;                             // its log's next entry
    std::deque<Held> held;
    std::string output;
    bool output_diverged = false, stopped = false;
    bool awaiting_settled_io = false;  // its next input waits for the network to settle
  };

  // " (N held back: T from actor S's send #Q, ...)", the first few.
  static std::string HeldBack(const Actor& actor) {
    std::string out = absl::StrCat(" (", actor.held.size(), " held back");
    for (size_t i = 0; i < actor.held.size() && i < 4; ++i) {
      const Held& h = actor.held[i];
      absl::StrAppend(&out, i == 0 ? ": " : ", ", std::string(h.envelope->info()->name),
                      h.origin.sender != 0
                          ? absl::StrCat(" from actor ", h.origin.sender, "'s send #", h.origin.seq)
                          : std::string(" from outside"));
    }
    return out + (actor.held.size() > 4 ? ", ...)" : ")");
  }
  static std::string Where(const Actor& actor) {
    return absl::StrCat("actor ", actor.key, " (", actor.type, ") message #", actor.at + 1, " of ",
                        actor.log->handled_size());
  }
  void Diverged(std::string what) {
    if (divergence_.empty()) divergence_ = std::move(what);
  }

  const Recording recording_;
  const std::function<bool()> io_settled_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, const record::ActorLog*> by_spawn_;
  std::deque<Actor> actors_;
  uint64_t outside_spawns_ = 0;
  size_t unfinished_ = 0;  // recorded actors not spawned yet or with messages left to handle
  bool finished_ = false;
  std::string divergence_;  // the first
};

Replay::Replay(Recording recording, SimulationOptions options)
    : replayer_(std::make_shared<Replayer>(std::move(recording),
                                           [this] { return simulation_->IoSettled(); })) {
  options.system.recorder = replayer_;
  simulation_ = std::make_unique<Simulation>(std::move(options));
}

Replay::~Replay() {
  (void)replayer_->Finish();  // free the actors, so the system can stop
  simulation_.reset();
}

bool Replay::done() const { return replayer_->done(); }

absl::Status Replay::Finish() {
  simulation_->RunUntil([this] { return replayer_->done(); });
  return replayer_->Finish();
}

std::string Replay::Describe() const { return replayer_->Describe(); }

}  // namespace troupe::testing
