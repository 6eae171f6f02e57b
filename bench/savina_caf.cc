// Savina-style actor benchmarks on CAF 0.17 (libcaf-dev): the peer of //bench:savina.
// Same workloads, same command line, same output; bench/compare runs both and prints ratios.
//
//   bazel run -c opt //bench:savina_caf -- --bench=all --threads=2
//
// One line per workload and repetition on stdout, nothing else:
//   NAME n=N threads=T seconds=S msgs_per_s=X
// Timing starts after every actor is spawned and initialized, just before the first message is
// sent (for `create`, spawning is what is timed), and ends when the main thread learns of
// completion through a std::promise set by the actor that finishes. Each repetition gets a fresh
// caf::actor_system with scheduler.max-threads = --threads; every actor is sent an exit message
// afterwards and the system's destructor waits for all of them.
//
// Only CAF's dynamically typed API is used (event_based_actor / stateful_actor + behavior);
// messages are int64_t values and atoms, so no type announcement is needed.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/savina_driver.h"
#include "caf/all.hpp"

ABSL_FLAG(bool, create_self_spawn, false,
          "create: spawn with self->spawn (lands on the creator's worker queue, where CAF 0.17's "
          "O(queue length) steal makes it quadratic) instead of home_system().spawn");

namespace troupe::bench {
namespace {

using GoAtom = caf::atom_constant<caf::atom("go")>;
using WorkerDoneAtom = caf::atom_constant<caf::atom("wdone")>;

// Set once by the actor that completes the workload. It is owned by the caller of the workload
// function and outlives the actor system, so the setter never races with its destruction.
using Done = std::promise<void>;

// Gives freshly spawned actors time to run their initialization, so it is not timed (CAF
// schedules an event-based actor's make_behavior asynchronously after spawn()).
void Settle() { absl::SleepFor(absl::Milliseconds(20)); }

// Measures from now until `done` is set.
class Stopwatch {
 public:
  Stopwatch() : start_(absl::Now()) {}
  double SecondsUntil(Done* done) {
    done->get_future().wait();
    return absl::ToDoubleSeconds(absl::Now() - start_);
  }

 private:
  absl::Time start_;
};

void StopAll(const std::vector<caf::actor>& actors) {
  for (const caf::actor& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

// ---------------------------------------------------------------- pingpong
// The ball carries the number of round trips still to play.

caf::behavior Pong(caf::event_based_actor* self, const caf::actor* ping) {
  return {
      [=](int64_t remaining) { self->send(*ping, remaining); },
  };
}

caf::behavior Ping(caf::event_based_actor* self, caf::actor pong, int64_t round_trips, Done* done) {
  return {
      [=](GoAtom) { self->send(pong, round_trips - 1); },
      [=](int64_t remaining) {
        if (remaining == 0) {
          done->set_value();
          return;
        }
        self->send(pong, remaining - 1);
      },
  };
}

double PingPong(caf::actor_system& system, int64_t n, Done* done) {
  caf::actor ping;  // pong reads it only once the ball is in play
  caf::actor pong = system.spawn(Pong, &ping);
  ping = system.spawn(Ping, pong, n / 2, done);
  Settle();
  Stopwatch watch;
  caf::anon_send(ping, GoAtom::value);
  const double seconds = watch.SecondsUntil(done);
  StopAll({ping, pong});
  return seconds;
}

// ---------------------------------------------------------------- ring
// The token carries the number of hops still to make; the first delivery counts as a hop.

caf::behavior RingNode(caf::event_based_actor* self, const caf::actor* next, Done* done) {
  return {
      [=](int64_t hops_left) {
        if (hops_left == 0) {
          done->set_value();
          return;
        }
        self->send(*next, hops_left - 1);
      },
  };
}

double Ring(caf::actor_system& system, int64_t n, Done* done) {
  constexpr int kNodes = 503;
  // Node i holds a pointer to slot i+1; every slot is filled before the token starts.
  std::vector<caf::actor> nodes(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes[i] = system.spawn(RingNode, &nodes[(i + 1) % kNodes], done);
  }
  Settle();
  Stopwatch watch;
  caf::anon_send(nodes[0], int64_t{n - 1});
  const double seconds = watch.SecondsUntil(done);
  StopAll(nodes);
  return seconds;
}

// ---------------------------------------------------------------- fanin

struct ReceiverState {
  int64_t count = 0;
  int64_t sum = 0;
};

caf::behavior Receiver(caf::stateful_actor<ReceiverState>* self, int64_t expected, Done* done) {
  return {
      [=](int64_t value) {
        self->state.sum += value;
        if (++self->state.count == expected) done->set_value();
      },
  };
}

caf::behavior Producer(caf::event_based_actor* self, caf::actor receiver, int64_t count) {
  return {
      [=](GoAtom) {
        for (int64_t i = 0; i < count; ++i) self->send(receiver, i);
      },
  };
}

double FanIn(caf::actor_system& system, int64_t n, Done* done) {
  constexpr int kProducers = 100;
  const int64_t per = n / kProducers;
  std::vector<caf::actor> actors;
  caf::actor receiver = system.spawn(Receiver, per * kProducers, done);
  actors.push_back(receiver);
  for (int i = 0; i < kProducers; ++i) actors.push_back(system.spawn(Producer, receiver, per));
  Settle();
  Stopwatch watch;
  for (int i = 1; i <= kProducers; ++i) caf::anon_send(actors[i], GoAtom::value);
  const double seconds = watch.SecondsUntil(done);
  StopAll(actors);
  return seconds;
}

// ---------------------------------------------------------------- fjthrput

struct FjWorkerState {
  int64_t count = 0;
  double acc = 0;
  ~FjWorkerState() {
    if (acc == 12345.678) std::fprintf(stderr, "unlikely\n");  // keeps acc observable
  }
};

caf::behavior FjWorker(caf::stateful_actor<FjWorkerState>* self, int64_t share,
                       const caf::actor* driver) {
  return {
      [=](int64_t value) {
        const double x = static_cast<double>(value);
        self->state.acc += std::sqrt(x) * std::sin(x);
        if (++self->state.count == share) self->send(*driver, WorkerDoneAtom::value);
      },
  };
}

struct DriverState {
  int finished = 0;
};

caf::behavior Driver(caf::stateful_actor<DriverState>* self, std::vector<caf::actor> workers,
                     int64_t n, Done* done) {
  return {
      [=](GoAtom) {
        const size_t k = workers.size();
        for (int64_t i = 0; i < n; ++i) self->send(workers[i % k], i);
      },
      [=](WorkerDoneAtom) {
        if (++self->state.finished == static_cast<int>(workers.size())) done->set_value();
      },
  };
}

double FjThrput(caf::actor_system& system, int64_t n, Done* done) {
  constexpr int kWorkers = 60;
  const int64_t per = n / kWorkers;
  caf::actor driver;  // workers read it only once jobs flow
  std::vector<caf::actor> workers;
  for (int i = 0; i < kWorkers; ++i) workers.push_back(system.spawn(FjWorker, per, &driver));
  driver = system.spawn(Driver, workers, per * kWorkers, done);
  Settle();
  Stopwatch watch;
  caf::anon_send(driver, GoAtom::value);
  const double seconds = watch.SecondsUntil(done);
  StopAll({driver});
  StopAll(workers);
  return seconds;
}

// ---------------------------------------------------------------- create

caf::behavior OneShot(caf::event_based_actor* self, std::atomic<int64_t>* counter, int64_t n,
                      Done* done) {
  return {
      [=](int) {
        if (counter->fetch_add(1, std::memory_order_acq_rel) + 1 == n) done->set_value();
        self->quit();
      },
  };
}

// The creator spawns through the actor system rather than self->spawn by default. Both are
// ordinary CAF 0.17 API; they differ in where the new actor's first run is queued. self->spawn
// prepends it to the creator's own worker deque, so all N actors pile up there while the handler
// runs, and the other workers steal from that deque's tail with take_tail(), which walks the
// whole list to find the predecessor: O(N^2) in total (200k actors at 2 threads: ~4k spawns/s,
// almost all of it in take_tail). home_system().spawn distributes the new actors round-robin over
// the workers' queues (append, O(1)), which is CAF's best showing; --create_self_spawn restores
// the other.
caf::behavior Creator(caf::event_based_actor* self, int64_t n, std::atomic<int64_t>* counter,
                      Done* done) {
  const bool self_spawn = absl::GetFlag(FLAGS_create_self_spawn);
  return {
      [=](GoAtom) {
        for (int64_t i = 0; i < n; ++i) {
          caf::actor one_shot = self_spawn ? self->spawn(OneShot, counter, n, done)
                                           : self->home_system().spawn(OneShot, counter, n, done);
          self->send(one_shot, 1);
        }
      },
  };
}

double Create(caf::actor_system& system, int64_t n, Done* done) {
  std::atomic<int64_t> counter{0};
  caf::actor creator = system.spawn(Creator, n, &counter, done);
  Settle();
  Stopwatch watch;
  caf::anon_send(creator, GoAtom::value);
  const double seconds = watch.SecondsUntil(done);
  StopAll({creator});
  // The one-shot actors have all counted, but may still be finishing quit(); they touch nothing
  // of ours any more, and the actor system's destructor waits for them.
  return seconds;
}

// ---------------------------------------------------------------- driver

double RunOnce(std::string_view name, int64_t n, int threads) {
  Done done;  // declared first: destroyed after the system, which waits for every actor
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  caf::actor_system system{cfg};
  if (system.scheduler().num_workers() != static_cast<size_t>(threads)) {
    std::fprintf(stderr, "warning: CAF started %zu scheduler threads, asked for %d\n",
                 system.scheduler().num_workers(), threads);
  }
  if (name == "pingpong") return PingPong(system, n, &done);
  if (name == "ring") return Ring(system, n, &done);
  if (name == "fanin") return FanIn(system, n, &done);
  if (name == "fjthrput") return FjThrput(system, n, &done);
  return Create(system, n, &done);
}

}  // namespace
}  // namespace troupe::bench

int main(int argc, char** argv) {
  return troupe::bench::RunSavina(argc, argv, "CAF 0.17 (peer of //bench:savina)",
                                  &troupe::bench::RunOnce);
}
