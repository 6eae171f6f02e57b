// What actors learn about each other's lives, how a parent supervises its children, and how
// full a mailbox may get.
//
//   MonitorActor(ref)    -> this actor receives Down{id, reason} when `ref` stops (at once if it
//                           has stopped already). Its Protocol must list Down.
//   LinkActor(ref)       -> if either actor fails, the other fails too - unless its Protocol
//                           lists Exit ("trapping exits"): then it receives Exit{id, reason}.
//                           A normal stop does not propagate.
//   ctx().SpawnSupervised<A>(args...) -> a child that this actor restarts when it fails, by the
//                           SupervisorOptions set with ctx().SetSupervisorOptions().
//
// A failure is a handler (or OnStart) that throws, or a handler returning a non-OK
// absl::Status. The failing message is dropped and counted (ActorSystem::stats().failures).
#ifndef FRAMEWORK_ACTOR_LIFECYCLE_H_
#define FRAMEWORK_ACTOR_LIFECYCLE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace troupe {

// A monitored actor stopped. reason: OK if it stopped normally (Stop(), its parent stopping, the
// system shutting down); the failure otherwise.
struct Down {
  uint64_t actor_id;
  absl::Status reason;
};

// A linked actor failed (delivered only to actors whose Protocol lists Exit).
struct Exit {
  uint64_t actor_id;
  absl::Status reason;
};

enum class RestartStrategy {
  kOneForOne,   // restart the failed child only
  kOneForAll,   // restart every supervised child
  kRestForOne,  // restart the failed child and the supervised children spawned after it
};

struct SupervisorOptions {
  RestartStrategy strategy = RestartStrategy::kOneForOne;
  // Restart intensity (OTP's default: 1 restart in 5 s). One more restart than this within the
  // period and the supervisor gives up: it stops its children and fails itself (escalation to
  // its own supervisor, or it stops).
  int max_restarts = 1;
  absl::Duration within = absl::Seconds(5);
  // Delay before a restart: `backoff`, doubled for each earlier restart still within the
  // period, at most `max_backoff`. Zero: restart at once. The child's mailbox is kept meanwhile.
  absl::Duration backoff = absl::ZeroDuration();
  absl::Duration max_backoff = absl::Seconds(10);
};

enum class OverflowPolicy : uint8_t {
  kReject,      // the send is refused: Tell returns false, a request fails RESOURCE_EXHAUSTED
  kDropNewest,  // the arriving message is dropped (a dead letter); Tell returns false
  // The oldest queued message is dropped (a dead letter) to make room, as the consumer takes
  // messages out; if arrivals outrun even that (twice the capacity queued), the arrival is
  // dropped instead and Tell returns false, so memory stays bounded either way.
  kDropOldest,
  // Tell is refused as with kReject, but TellWhenRoom (ActorContext, ActorSystem) waits for
  // room - in order, behind earlier waiters, up to its timeout - and then reports the outcome.
  kBackpressure,
};

// A bound on an actor's queued user messages, declared in the actor class:
//   static constexpr troupe::MailboxLimit kMailboxLimit{1000, troupe::OverflowPolicy::kReject};
// Without it the mailbox is unbounded. System messages and replies to the actor's own asks are
// never counted nor dropped. Dropped and refused messages are dead letters (kMailboxFull).
struct MailboxLimit {
  uint32_t capacity = 0;  // 0: unbounded
  OverflowPolicy policy = OverflowPolicy::kReject;
};

}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_LIFECYCLE_H_
