// EXPECT-ERROR: co_await Ask(): pass this message as a named variable, not a temporary
#include "framework/actor/compile_tests/common.h"

struct Say {
  std::string text;
};
using EchoProtocol = troupe::Protocol<troupe::Request<Say, std::string>>;
struct Go {};
class Client : public troupe::Actor<Client, troupe::Protocol<Go>> {
 public:
  troupe::Task<> Handle(Go) {
    troupe::ActorRef<EchoProtocol> echo;
    auto r = co_await ctx().Ask(echo, Say{"a temporary with a std::string"}, absl::Seconds(1));
  }
};
