// The simulation's own promises: time moves only when nothing else can happen (an hour's timer
// fires at once, in simulated time), an ask can be awaited from the driving thread, and the
// seed alone decides the interleaving (the same seed, the same order; other seeds, others).
#include "framework/testing/simulation.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace troupe::testing {
namespace {

struct Note {
  std::string text;
};
using RecorderProtocol = Protocol<Note>;
class Recorder : public Actor<Recorder, RecorderProtocol> {
 public:
  explicit Recorder(std::vector<std::string>* log) : log_(log) {}
  void Handle(Note n) { log_->push_back(std::move(n.text)); }

 private:
  std::vector<std::string>* log_;
};

struct Go {};
using SpeakerProtocol = Protocol<Go>;
class Speaker : public Actor<Speaker, SpeakerProtocol> {
 public:
  Speaker(std::string name, ActorRef<RecorderProtocol> to) : name_(std::move(name)), to_(to) {}
  void Handle(Go) {
    to_.Tell(Note{name_ + std::to_string(sent_++)});
    if (sent_ < 20) self().Tell(Go{});
  }

 private:
  std::string name_;
  ActorRef<RecorderProtocol> to_;
  int sent_ = 0;
};

struct Ping {};
using TimedProtocol = Protocol<Ping, Request<Note, std::string>>;
class Timed : public Actor<Timed, TimedProtocol> {
 public:
  void OnStart() override { ctx().SendAfter(absl::Hours(1), self(), Ping{}); }
  void Handle(Ping) { fired_ = true; }
  std::string Handle(Note n) { return fired_ ? "fired " + n.text : "not yet"; }

 private:
  bool fired_ = false;
};

std::vector<std::string> Interleaving(uint64_t seed) {
  std::vector<std::string> log;
  Simulation sim({.seed = seed});
  auto recorder = sim.system().Spawn<Recorder>(&log).value();
  for (const char* name : {"a", "b", "c"}) {
    sim.system().Spawn<Speaker>(name, recorder).value().Tell(Go{});
  }
  EXPECT_TRUE(sim.RunUntil([&] { return log.size() == 60; })) << sim.Describe();
  return log;
}

TEST(SimulationTest, TheSeedAloneDecidesTheInterleaving) {
  const std::vector<std::string> a = Interleaving(5);
  EXPECT_EQ(Interleaving(5), a);
  int others = 0;
  for (uint64_t seed = 6; seed < 12; ++seed) others += Interleaving(seed) != a ? 1 : 0;
  EXPECT_GE(others, 5) << "the seed hardly changes the order";
}

TEST(SimulationTest, TimeMovesOnlyWhenNothingElseCanHappenAndAsksCanBeAwaited) {
  Simulation sim({.seed = 1});
  const absl::Time start = sim.clock().Now();
  const absl::Time real_start = absl::Now();
  auto timed = sim.system().Spawn<Timed>().value();
  EXPECT_EQ(*sim.system().Await(sim.system().Ask(timed, Note{"x"}, absl::Hours(2))), "not yet");
  EXPECT_EQ(sim.clock().Now(), start) << "time moved while there was work";
  // Nothing else to do: the clock jumps to the timer, an hour later.
  EXPECT_EQ(*sim.system().Await(sim.system().Ask(timed, Note{"y"}, absl::Hours(2))), "not yet");
  EXPECT_FALSE(sim.RunUntil([] { return false; }));  // runs until nothing is left to happen
  EXPECT_GE(sim.clock().Now(), start + absl::Hours(1));
  EXPECT_EQ(*sim.system().Await(sim.system().Ask(timed, Note{"z"}, absl::Hours(2))), "fired z");
  EXPECT_LT(absl::Now() - real_start, absl::Seconds(5));
}

}  // namespace
}  // namespace troupe::testing
