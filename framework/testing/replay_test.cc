// Record and replay (framework/record, replay.h) on a deliberate ordering bug: a reader looks
// up a name that a writer registers (after a timer), assuming the registration comes first. On
// two real workers it sometimes does and sometimes does not. A recorded run of each kind,
// replayed under 50 simulation seeds, comes out as recorded every time - also the order the
// simulation alone never produces; a replay of a changed program says where it went another
// way.
#include "framework/testing/replay.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "framework/base/status_matchers.h"
#include "framework/message/envelope_origin.h"
#include "framework/record/recorder.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"

namespace troupe::testing {
namespace {

struct Register {
  std::string name;
};
struct Lookup {
  std::string name;
};
using RegistryProtocol = Protocol<Register, Lookup>;
enum Outcome : int { kPending = 0, kFound = 1, kMissing = 2 };

class Registry : public Actor<Registry, RegistryProtocol> {
 public:
  explicit Registry(std::atomic<int>* outcome) : outcome_(outcome) {}
  void Handle(Register m) { names_.insert(std::move(m.name)); }
  void Handle(Lookup m) { outcome_->store(names_.contains(m.name) ? kFound : kMissing); }

 private:
  std::atomic<int>* outcome_;
  std::set<std::string> names_;
};

// Real time only makes the race come out both ways on real workers; it decides nothing the
// actors do (a replay runs the same handlers in simulated time).
void SpinFor(absl::Duration d) {
  for (const absl::Time end = absl::Now() + d; absl::Now() < end;) {
  }
}
// At least 1 us: a timer due at once (0) could fire in the simulation before the reader's turn,
// whose clock otherwise moves only when nothing else can happen (a 1-in-1,501 flake).
absl::Duration Jitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return absl::Microseconds(std::uniform_int_distribution<int>(1, 1500)(rng));
}

struct Go {};
struct Later {};
using WriterProtocol = Protocol<Go, Later>;
// Registers "x" a little later: through a timer (a recorded run names the timer's message by
// the actor that armed it).
class Writer : public Actor<Writer, WriterProtocol> {
 public:
  enum class Variant { kAsRecorded, kSendsNothing, kSendsALookup };
  Writer(ActorRef<RegistryProtocol> registry, Variant variant)
      : registry_(registry), variant_(variant) {}
  void Handle(Go) { ctx().SendAfter(Jitter(), self(), Later{}); }
  void Handle(Later) {
    if (variant_ == Variant::kAsRecorded) registry_.Tell(Register{"x"});
    if (variant_ == Variant::kSendsALookup) registry_.Tell(Lookup{"x"});
  }

 private:
  ActorRef<RegistryProtocol> registry_;
  Variant variant_;
};

using ReaderProtocol = Protocol<Go>;
class Reader : public Actor<Reader, ReaderProtocol> {
 public:
  explicit Reader(ActorRef<RegistryProtocol> registry) : registry_(registry) {}
  void Handle(Go) {
    SpinFor(Jitter());
    registry_.Tell(Lookup{"x"});  // the bug: assumes Register{"x"} was handled already
  }

 private:
  ActorRef<RegistryProtocol> registry_;
};

// The program, on any system: the same spawns and the same two inputs from outside.
void Start(ActorSystem& system, std::atomic<int>* outcome,
           Writer::Variant variant = Writer::Variant::kAsRecorded) {
  auto registry = system.Spawn<Registry>(outcome).value();
  auto writer = system.Spawn<Writer>(registry, variant).value();
  auto reader = system.Spawn<Reader>(registry).value();
  writer.Tell(Go{});
  reader.Tell(Go{});
}

// Records real two-worker runs until one came out as `want`.
Recording RecordUntil(Outcome want) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto recorder = std::make_shared<Recorder>();
    std::atomic<int> outcome{kPending};
    {
      ActorSystemOptions options;
      options.threads = 2;
      options.recorder = recorder;
      ActorSystem system(options);
      Start(system, &outcome);
      EXPECT_TRUE(WaitFor([&] { return outcome.load() != kPending; }));
    }  // the shutdown is recorded too: what each actor handled before its stop
    Recording recording = recorder->Finish();
    if (outcome.load() == want) return recording;
  }
  ADD_FAILURE() << "500 recorded runs never came out as " << want;
  return Recording();
}

TEST(ReplayTest, ARecordedRunComesOutAsRecordedUnderEverySeed) {
  for (Outcome recorded : {kFound, kMissing}) {
    Recording recording = RecordUntil(recorded);
    ASSERT_GT(recording.messages(), 0u);
    // Through a file, as a user would keep a failing run.
    const std::string path = std::string(getenv("TEST_TMPDIR")) + "/run.rec";
    ASSERT_THAT(recording.WriteFile(path), IsOk());
    absl::StatusOr<Recording> read = Recording::ReadFile(path);
    ASSERT_THAT(read, IsOk());
    const Recording& loaded = *read;
    EXPECT_EQ(loaded.Summary(), recording.Summary());
    std::printf("recorded (%s): %s\n", recorded == kFound ? "found" : "missing",
                loaded.Summary().c_str());
    for (uint64_t seed = 1; seed <= 50; ++seed) {
      std::atomic<int> outcome{kPending};
      Replay replay(loaded, {.seed = seed});
      Start(replay.system(), &outcome);
      ASSERT_THAT(replay.Finish(), IsOk()) << "seed " << seed;
      EXPECT_EQ(outcome.load(), recorded) << "seed " << seed;
    }
  }
  EXPECT_EQ(::troupe::internal::OriginEnvelopesInFlight(), 0u);
}

// The simulation alone never finds the registration first: its clock moves only when nothing
// else can happen, so the writer's timer always fires after the reader's lookup. The replay of
// a recorded run where it came first (above) reproduces that order under every seed.
TEST(ReplayTest, TheSimulationAloneNeverProducesTheRecordedOrder) {
  std::set<int> outcomes;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::atomic<int> outcome{kPending};
    Simulation sim({.seed = seed});
    Start(sim.system(), &outcome);
    ASSERT_TRUE(sim.RunUntil([&] { return outcome.load() != kPending; }));
    outcomes.insert(outcome.load());
  }
  EXPECT_EQ(outcomes, (std::set<int>{kMissing}));
}

TEST(ReplayTest, SaysWhereAChangedProgramWentAnotherWay) {
  Recording recording = RecordUntil(kFound);
  {
    std::atomic<int> outcome{kPending};
    Replay replay(recording, {.seed = 3});
    Start(replay.system(), &outcome, Writer::Variant::kSendsNothing);
    absl::Status status = replay.Finish();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    // The registry waits for the writer's registration (its first message to the registry).
    EXPECT_NE(status.message().find("Registry) message #1 of 3 waits for "), std::string::npos)
        << status;
    EXPECT_NE(status.message().find("Register, actor 2's send #1"), std::string::npos) << status;
  }
  {
    std::atomic<int> outcome{kPending};
    Replay replay(recording, {.seed = 3});
    Start(replay.system(), &outcome, Writer::Variant::kSendsALookup);
    absl::Status status = replay.Finish();
    EXPECT_NE(status.message().find("Registry) message #1 of 3: the recording has "),
              std::string::npos)
        << status;
    EXPECT_NE(status.message().find("Register, the replay "), std::string::npos) << status;
  }
  {  // another program altogether: its first actor is of another type
    Replay replay(recording, {.seed = 3});
    (void)replay.system().Spawn<Reader>(ActorRef<RegistryProtocol>()).value();
    absl::Status status = replay.Finish();
    EXPECT_NE(status.message().find("an actor of type"), std::string::npos) << status;
    EXPECT_NE(status.message().find("was never spawned"), std::string::npos) << status;
  }
}

TEST(RecordingTest, RefusesWhatIsNotARecording) {
  EXPECT_EQ(Recording::Parse("not a recording at all").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Recording::ReadFile("/nonexistent/run.rec").status().code(),
            absl::StatusCode::kNotFound);
  record::Recording bad;
  bad.add_actors()->set_key(1);
  bad.mutable_actors(0)->add_handled()->set_type(5);  // no such type
  EXPECT_EQ(Recording::FromProto(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.add_types("T");
  bad.mutable_actors(0)->mutable_handled(0)->set_type(0);
  bad.mutable_actors(0)->mutable_handled(0)->set_sender(9);  // no such actor
  EXPECT_EQ(Recording::FromProto(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.mutable_actors(0)->mutable_handled(0)->set_sender(1);
  EXPECT_THAT(Recording::FromProto(bad), IsOk());
}

}  // namespace
}  // namespace troupe::testing
