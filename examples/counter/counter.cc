// The README's first actor, as a program: bazel run //examples/counter -- --by=5
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "framework/system/actor_system.h"

ABSL_FLAG(int, by, 5, "how much to add to the counter");

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

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);  // --help lists the flags; a bad value is refused
  troupe::ActorSystem system({.threads = 2});
  troupe::ActorRef<CounterProtocol> counter = system.Spawn<Counter>().value();
  counter.Tell(Increment{absl::GetFlag(FLAGS_by)});
  // counter.Tell(std::string("x"));   // compile error: not in CounterProtocol
  absl::StatusOr<int> total = system.Ask(counter, Get{}, absl::Seconds(1)).get();
  std::printf("total = %d\n", total.value());
}  // the destructor shuts the system down: actors stop, threads are joined
