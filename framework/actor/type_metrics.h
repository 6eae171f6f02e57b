// TypeMetrics: what is measured of an actor type that opts in - by declaring
//
//   static constexpr bool kTypeMetrics = true;
//
// in its class, or by being named in ActorSystemOptions::measured_actor_types - for all its live
// actors together: messages handled, the time each handler took (a histogram), and how many
// messages wait in their mailboxes. The system's metrics show them as
// troupe_actor_messages_total{type}, troupe_actor_handler_seconds{type} and
// troupe_actor_mailbox_depth{type}. Types that do not opt in pay one pointer test per message.
//
// Thread safety: counters and histograms are sharded per thread (framework/metrics): senders on
// any thread add to `enqueued`, the actors' turns to the rest. One per type and system, owned by
// the SystemCore, alive as long as it is.
#ifndef FRAMEWORK_ACTOR_TYPE_METRICS_H_
#define FRAMEWORK_ACTOR_TYPE_METRICS_H_

#include <cstdint>

#include "framework/metrics/metrics.h"

namespace troupe::internal {

struct TypeMetrics {
  metrics::Counter handled;   // messages its actors handled (user and system)
  metrics::Counter enqueued;  // messages put in its actors' mailboxes
  metrics::Counter dequeued;  // ... and taken out (handled, dropped, or dead letters at stop)
  metrics::Histogram handler_seconds{metrics::ExponentialBuckets(1e-6, 4, 12)};  // 1 us .. 4 s

  // Messages waiting now, over the type's live actors (never negative: the two counters are
  // read one after the other while messages move).
  int64_t MailboxDepth() const {
    const uint64_t out = dequeued.Value();
    const uint64_t in = enqueued.Value();
    return in > out ? static_cast<int64_t>(in - out) : 0;
  }
};

}  // namespace troupe::internal

#endif  // FRAMEWORK_ACTOR_TYPE_METRICS_H_
