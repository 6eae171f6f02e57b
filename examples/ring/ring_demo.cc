// The ring demo: N actors in a ring pass tokens around; once a second the demo prints how many
// hops the ring made, then it shuts down cleanly. The first thing to run after cloning troupe.
//
//   bazel run -c opt //examples/ring:ring_demo -- --actors=503 --tokens=4 --seconds=5 --threads=2
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "framework/system/actor_system.h"

ABSL_FLAG(int, actors, 503, "actors in the ring");
ABSL_FLAG(int, tokens, 4, "tokens circulating at once");
ABSL_FLAG(int, seconds, 5, "how long to run");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");

namespace {

struct Token {
  uint64_t hops;
};
struct Link;
using NodeProtocol = troupe::Protocol<Token, Link>;
struct Link {
  troupe::ActorRef<NodeProtocol> next;
};

// One ring member: forwards every token to its successor and counts the hop.
class Node : public troupe::Actor<Node, NodeProtocol> {
 public:
  explicit Node(std::atomic<uint64_t>* hops) : hops_(hops) {}
  void Handle(Link l) { next_ = std::move(l.next); }
  void Handle(Token t) {
    ++t.hops;
    if ((t.hops & 1023) == 0) hops_->fetch_add(1024, std::memory_order_relaxed);
    next_.Tell(t);
  }

 private:
  troupe::ActorRef<NodeProtocol> next_;
  std::atomic<uint64_t>* hops_;
};

int Run() {
  const int n = absl::GetFlag(FLAGS_actors);
  const int tokens = absl::GetFlag(FLAGS_tokens);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  if (n < 2 || tokens < 1 || tokens > n || seconds < 1) {
    std::fprintf(stderr,
                 "ring_demo: need --actors >= 2, 1 <= --tokens <= --actors, --seconds >= 1\n");
    return 2;
  }
  troupe::ActorSystem system({.threads = absl::GetFlag(FLAGS_threads)});
  std::atomic<uint64_t> hops{0};
  std::vector<troupe::ActorRef<NodeProtocol>> ring;
  for (int i = 0; i < n; ++i) ring.push_back(system.Spawn<Node>(&hops).value());
  for (int i = 0; i < n; ++i) ring[i].Tell(Link{ring[(i + 1) % n]});
  std::printf("ring of %d actors, %d tokens, %d worker threads\n", n, tokens,
              system.scheduler().num_workers());
  for (int t = 0; t < tokens; ++t) ring[t * n / tokens].Tell(Token{0});

  uint64_t last = 0;
  absl::Time last_time = absl::Now();
  for (int s = 1; s <= seconds; ++s) {
    absl::SleepFor(absl::Seconds(1));
    const uint64_t now_hops = hops.load(std::memory_order_relaxed);
    const absl::Time now = absl::Now();
    std::printf("second %d: %.2f M hops/s\n", s,
                (now_hops - last) / absl::ToDoubleSeconds(now - last_time) / 1e6);
    std::fflush(stdout);
    last = now_hops;
    last_time = now;
  }
  system.Shutdown();
  const troupe::ActorSystemStats stats = system.stats();
  std::printf(
      "done: %llu hops in total, %llu steals, %llu dead letters (tokens in flight at shutdown)\n",
      static_cast<unsigned long long>(last),
      static_cast<unsigned long long>(stats.scheduler.steals),
      static_cast<unsigned long long>(stats.dead_letters));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("A ring of actors passing tokens; prints its throughput.");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
