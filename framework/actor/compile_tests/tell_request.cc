// EXPECT-ERROR: this message is a Request<> in the Protocol: send it with Ask()
#include "framework/actor/compile_tests/common.h"

void Use(troupe::ActorRef<CounterProtocol> ref) { ref.Tell(Get{}); }
