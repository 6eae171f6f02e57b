// EXPECT-ERROR: the actor has no Handle() for a message in its Protocol
#include "framework/actor/compile_tests/common.h"

class Forgetful : public troupe::Actor<Forgetful, CounterProtocol> {
 public:
  int Handle(Get) { return 0; }  // no Handle(Increment)
};

void Use(troupe::ActorSystem& system) { auto r = system.Spawn<Forgetful>(); }
