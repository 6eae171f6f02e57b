// The README's first actor, as a program: bazel run //examples/counter
#include <cstdio>

#include "framework/system/actor_system.h"

struct Increment {
  int by;
};
struct Get {};
// The messages the actor accepts. Request<T, R> entries are asked and answered with an R.
using CounterProtocol = troupe::Protocol<Increment, troupe::Request<Get, int>>;

class Counter : public troupe::Actor<Counter, CounterProtocol> {
 public:
  void Handle(Increment m) { total_ += m.by; }  // one Handle per protocol entry
  int Handle(Get) { return total_; }            // the return value is the reply
 private:
  int total_ = 0;  // owned state: no locks needed
};

int main() {
  troupe::ActorSystem system({.threads = 2});
  troupe::ActorRef<CounterProtocol> counter = system.Spawn<Counter>().value();
  counter.Tell(Increment{5});
  // counter.Tell(std::string("x"));   // compile error: not in CounterProtocol
  absl::StatusOr<int> total = system.Ask(counter, Get{}, absl::Seconds(1)).get();
  std::printf("total = %d\n", total.value());
}  // the destructor shuts the system down: actors stop, threads are joined
