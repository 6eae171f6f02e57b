// Memory per idle actor: spawns N actors that wait for a message, and reports the growth of the
// process's resident memory divided by N. //bench:actor_memory_caf does the same on CAF 0.17.
//
//   bazel run -c opt //bench:actor_memory -- --actors=100000
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "bench/resident_memory.h"
#include "framework/system/actor_system.h"

ABSL_FLAG(int, actors, 100000, "idle actors to spawn");

namespace {

struct Poke {};
using IdleProtocol = troupe::Protocol<Poke>;

// The smallest useful actor: no state beyond what the framework keeps.
class Idle : public troupe::Actor<Idle, IdleProtocol> {
 public:
  void Handle(Poke) {}
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_actors);
  troupe::ActorSystem system({.threads = 2, .max_actors = static_cast<size_t>(n) + 10});
  std::vector<troupe::ActorRef<IdleProtocol>> refs;
  refs.reserve(n);
  absl::SleepFor(absl::Milliseconds(50));
  const int64_t before = troupe::bench::ResidentBytes();
  for (int i = 0; i < n; ++i) refs.push_back(system.Spawn<Idle>().value());
  while (system.stats().scheduler.turns < static_cast<uint64_t>(n)) {
    absl::SleepFor(absl::Milliseconds(1));  // every actor has run its start turn and gone idle
  }
  const int64_t after = troupe::bench::ResidentBytes();
  std::printf("actor_memory actors=%d bytes_per_actor=%.0f\n", n,
              static_cast<double>(after - before) / n);
  return 0;
}
