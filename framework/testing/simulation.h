// Simulation: an ActorSystem on one thread, a manual clock and an in-memory network
// (io/memory), where every choice the runtime makes comes from one seed - which runnable actor
// runs next and how many messages its turn takes, on which of the virtual workers, when a
// backend delivers its completions, when a simulated client acts, when timers fire relative to
// I/O (time moves only when nothing else can happen), and which faults the network injects.
// The same seed gives the same run, step for step (trace_hash() says so), in this process or
// another; a failing property prints its seed and a rerun with that seed reproduces it.
//
//   troupe::testing::Simulation sim({.seed = seed, .faults = {.max_chunk = 7}});
//   auto listener = ServeTcpEcho(sim.system(), {...});      // the sample's own actors
//   sim.AddActivity(...);                                   // simulated clients
//   ASSERT_TRUE(sim.RunUntil([&] { return done; })) << sim.Describe();
//
// Runnables are picked by their stable_id (an actor's id), never by address or by the order
// they were scheduled, so a program whose own iteration order differs between processes (hash
// maps) still repeats its run. What cannot be simulated: threads of its own (the executor's
// pool, gRPC), real time read directly (absl::Now), the kernel's sockets.
//
// Thread safety: one thread (the one that made it) runs everything; Schedule() and AddTimer()
// may also be called from others, but a run is only repeatable if nothing else runs.
#ifndef FRAMEWORK_TESTING_SIMULATION_H_
#define FRAMEWORK_TESTING_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "framework/base/clock.h"
#include "framework/base/mutex.h"
#include "framework/scheduler/scheduler.h"
#include "framework/system/actor_system.h"
#include "framework/timer/timer_queue.h"
#include "io/memory/in_memory_network.h"

namespace troupe::testing {

struct SimulationOptions {
  uint64_t seed = 1;
  int workers = 2;       // virtual workers, one in-memory backend each
  int max_budget = 64;   // a turn takes 1..max_budget messages
  InMemoryFaults faults;  // the network's; its seed is derived from `seed`
  size_t buffer_bytes = 64 << 10;
  uint64_t max_steps = 2'000'000;  // RunUntil gives up after this many steps (a livelock)
  ActorSystemOptions system;        // max_actors, span_sink...; threads and io are the simulation's
};

// What a simulation test's run of one seed found: its trace and, if a property failed, why.
struct SimulationOutcome {
  uint64_t seed = 0, steps = 0, hash = 0;
  std::string failure;  // empty: the properties held; else ends with the run's Describe()
  // "seed N: S steps, trace hash H", what a rerun of one seed prints.
  std::string Summary() const;
};

// Something a simulated client does: `wants()` says whether it could act now, `act()` does one
// step of it. Both run on the simulation's thread, until the simulation ends (its destructor
// drops them before it shuts the system down).
struct Activity {
  std::function<bool()> wants;
  std::function<void()> act;
  // Optional: the simulated time it will want to act at next (a client that waits: the clock
  // moves there when nothing else can happen first). Null: only when wants() says so.
  std::function<absl::Time()> wake_at;
};

class Simulation {
 public:
  explicit Simulation(SimulationOptions options = {});
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  ActorSystem& system() { return *system_; }
  InMemoryNetwork& network() { return *network_; }
  const ManualClock& clock() const { return *clock_; }
  uint64_t seed() const { return options_.seed; }

  void AddActivity(Activity activity);
  // One choice among what can happen now (a turn, a backend's completions, an activity, due
  // timers); when nothing can, the clock moves to the next timer or delayed bytes. False when
  // nothing at all is left to happen.
  bool Step();
  // Steps until `done()` holds (true), or nothing can happen or max_steps passed (false).
  bool RunUntil(const std::function<bool()>& done);

  uint64_t steps() const;
  // No backend has completions to deliver (what was written has reached the network).
  bool IoSettled() const;
  uint64_t trace_hash() const;  // every choice made so far, hashed
  // "seed=N steps=S time=T hash=H (rerun: SIM_SEED=N)", for a failure's message.
  std::string Describe() const;
  // The run so far as an outcome; a non-empty `failure` gets Describe() appended.
  SimulationOutcome Outcome(std::string failure) const;

 private:
  class Driver;
  SimulationOptions options_;
  std::unique_ptr<ManualClock> clock_;  // the scheduler's and the network's
  Driver* driver_;                      // owned by system_ (its scheduler)
  std::shared_ptr<InMemoryNetwork> network_;
  std::unique_ptr<ActorSystem> system_;
};

// The seeds a simulation test runs: SIM_SEED=N in the environment runs N alone (to reproduce a
// failure); otherwise `count` seeds from `first` (SIM_SEEDS=K and SIM_FIRST_SEED=F override
// them: a soak, tools/sim_soak).
std::vector<uint64_t> SimulationSeeds(uint64_t count, uint64_t first = 1);

// Runs `run` for each of SimulationSeeds(count) until one fails; returns that failure, or ""
// when every seed held. A single seed (SIM_SEED) prints its Summary() on stdout.
std::string FirstFailure(uint64_t count, const std::function<SimulationOutcome(uint64_t)>& run);

}  // namespace troupe::testing

#endif  // FRAMEWORK_TESTING_SIMULATION_H_
