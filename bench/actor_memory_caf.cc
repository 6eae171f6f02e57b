// Memory per idle actor on CAF 0.17: the peer of //bench:actor_memory (same method: resident
// memory growth after spawning N event-based actors that wait for a message, divided by N).
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "bench/resident_memory.h"
#include "caf/all.hpp"

ABSL_FLAG(int, actors, 100000, "idle actors to spawn");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_actors);
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system system{cfg};
  std::vector<caf::actor> actors;
  actors.reserve(n);
  absl::SleepFor(absl::Milliseconds(50));
  const int64_t before = troupe::bench::ResidentBytes();
  for (int i = 0; i < n; ++i) {
    actors.push_back(system.spawn([]() -> caf::behavior { return {[](int) {}}; }));
  }
  absl::SleepFor(absl::Milliseconds(500));  // let every actor initialize
  const int64_t after = troupe::bench::ResidentBytes();
  std::printf("actor_memory actors=%d bytes_per_actor=%.0f\n", n,
              static_cast<double>(after - before) / n);
  for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return 0;
}
