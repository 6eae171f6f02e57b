// EXPECT-ERROR: Ask() needs a Request<T, R> entry in the Protocol; use Tell() for T
#include "framework/actor/compile_tests/common.h"

void Use(troupe::ActorSystem& system, troupe::ActorRef<CounterProtocol> ref) {
  auto f = system.Ask(ref, Increment{1}, absl::Seconds(1));
}
