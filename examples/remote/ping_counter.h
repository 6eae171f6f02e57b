// PingCounter: counts the Pings it receives and whether they came in order, without
// duplicates; answers CountPings asks with a PingCount. Used by the remote ping-pong example
// and the remote actor tests.
//
// Thread safety: an actor.
#ifndef EXAMPLES_REMOTE_PING_COUNTER_H_
#define EXAMPLES_REMOTE_PING_COUNTER_H_

#include <vector>

#include "framework/system/actor_system.h"
#include "proto/ping.pb.h"

namespace troupe::examples {

using PingCounterProtocol = Protocol<Ping, Request<CountPings, PingCount>>;

class PingCounter : public Actor<PingCounter, PingCounterProtocol> {
 public:
  void Handle(Ping ping) {
    const uint64_t seq = ping.seq();
    if (seq >= seen_.size()) seen_.resize(seq * 2 + 1024, false);
    if (seen_[seq]) count_.set_duplicates(count_.duplicates() + 1);
    seen_[seq] = true;
    if (count_.received() > 0 && seq <= count_.last_seq()) {
      count_.set_out_of_order(count_.out_of_order() + 1);
    }
    count_.set_received(count_.received() + 1);
    count_.set_last_seq(seq);
  }
  PingCount Handle(CountPings) { return count_; }

 private:
  PingCount count_;
  std::vector<bool> seen_;
};

}  // namespace troupe::examples

#endif  // EXAMPLES_REMOTE_PING_COUNTER_H_
