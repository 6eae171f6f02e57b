// Shared by the compile tests: a small protocol and actor.
#include <string>

#include "framework/actor/actor.h"
#include "framework/system/actor_system.h"

struct Increment {
  int by;
};
struct Get {};
using CounterProtocol = troupe::Protocol<Increment, troupe::Request<Get, int>>;

class Counter : public troupe::Actor<Counter, CounterProtocol> {
 public:
  void Handle(Increment m) { total_ += m.by; }
  int Handle(Get) { return total_; }

 private:
  int total_ = 0;
};
