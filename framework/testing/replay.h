// Replay: runs the actors of a recorded run (framework/record/recorder.h) again, on the
// deterministic simulation (simulation.h), and makes each one handle its messages in the order
// it did in the recording; reports the first place where the replay went another way.
//
//   absl::StatusOr<troupe::Recording> recording = troupe::Recording::ReadFile("/tmp/run.rec");
//   troupe::testing::Replay replay(*std::move(recording));
//   auto server = ChatServer::Start(replay.system(), {.port = 7000});  // the same actors
//   ... connect as many clients as the recorded run had (they need not send anything) ...
//   absl::Status same = replay.Finish();   // OK: same order, same bytes written
//
// How: each actor is matched to the recorded one by who spawned it and when (its spawner's
// count of spawns, or the count of spawns from outside). Its messages are held back until the
// one its log names comes next: messages sent by actors by sender and the sender's count of sends to it, inputs from
// outside made from their recorded content (codecs, framework/actor/record_codec.h) - the
// live inputs of the replay (bytes on its sockets, its own stops) are dropped - and inputs
// without a codec by waiting for the driving test to send the same message again (a request
// from the test's thread). The bytes each actor writes to sockets are compared with the
// recorded ones as they are written.
//
// Divergences: a message of another type where the log names one; an actor spawned that the
// recording does not have, or of another type; an actor waiting for a message that never comes
// (Finish reports where each one stopped); different bytes written. What cannot be replayed:
// what a simulation cannot hold (threads of their own, absl::Now() read directly), and an actor
// whose decisions read the clock or live socket state in a way that comes out otherwise here.
//
// Thread safety: the simulation's thread only.
#ifndef FRAMEWORK_TESTING_REPLAY_H_
#define FRAMEWORK_TESTING_REPLAY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "framework/record/recording.h"
#include "framework/system/actor_system.h"
#include "framework/testing/simulation.h"

namespace troupe::testing {

class Replay {
 public:
  // `options.system.recorder` is the replay's own.
  explicit Replay(Recording recording, SimulationOptions options = {});
  ~Replay();
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;

  Simulation& simulation() { return *simulation_; }
  ActorSystem& system() { return simulation_->system(); }

  // True once every recorded actor has handled every message it handled in the recording.
  bool done() const;
  // Runs the simulation until done() (or nothing can happen any more), then compares. OK: every
  // actor handled the recorded messages in the recorded order and wrote the recorded bytes;
  // else FAILED_PRECONDITION naming the first divergence, and where each unfinished actor
  // stopped. From then on actors take their messages as they come (so the system can stop).
  absl::Status Finish();
  // Per unfinished actor: how far it got and what it waits for.
  std::string Describe() const;

 private:
  class Replayer;
  std::shared_ptr<Replayer> replayer_;
  std::unique_ptr<Simulation> simulation_;  // destroyed first: its actors use the replayer
};

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_REPLAY_H_
