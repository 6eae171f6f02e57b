// EXPECT-OK: the positive control; everything here must compile.
#include "framework/actor/compile_tests/common.h"

void Use(troupe::ActorSystem& system, troupe::ActorRef<CounterProtocol> ref) {
  ref.Tell(Increment{1});
  auto future = system.Ask(ref, Get{}, absl::Seconds(1));
  (void)future;
  auto spawned = system.Spawn<Counter>();
  (void)spawned;
}
