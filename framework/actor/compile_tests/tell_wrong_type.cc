// EXPECT-ERROR: this message type is not in the actor's Protocol
#include "framework/actor/compile_tests/common.h"

void Use(troupe::ActorRef<CounterProtocol> ref) { ref.Tell(std::string("not a counter message")); }
