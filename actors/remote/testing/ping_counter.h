// PingCounter: counts the Pings it receives and whether they came in order, without
// duplicates; answers CountPings asks with a PingCount - what a test (or the remote example's
// flood) needs to check that a link delivered everything, once, in order.
//
// Thread safety: an actor.
#ifndef ACTORS_REMOTE_TESTING_PING_COUNTER_H_
#define ACTORS_REMOTE_TESTING_PING_COUNTER_H_

#include <vector>

#include "framework/system/actor_system.h"
#include "proto/ping.pb.h"

namespace troupe::testing {

using examples::CountPings;  // proto/ping.proto
using examples::Ping;
using examples::PingCount;

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

}  // namespace troupe::testing

#endif  // ACTORS_REMOTE_TESTING_PING_COUNTER_H_
