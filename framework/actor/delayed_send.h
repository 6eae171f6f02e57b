// Delayed and periodic sends through a scheduler's timers; used by ActorContext and
// ActorSystem. Thread safety: any thread.
#ifndef FRAMEWORK_ACTOR_DELAYED_SEND_H_
#define FRAMEWORK_ACTOR_DELAYED_SEND_H_

#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "framework/actor/actor_ref.h"
#include "framework/scheduler/scheduler.h"
#include "framework/timer/timer_queue.h"
#include "framework/trace/trace_context.h"

namespace troupe::internal {

template <typename P, typename M>
TimerHandle SendAfter(Scheduler& scheduler, absl::Duration delay, const ActorRef<P>& to, M&& msg) {
  using T = std::decay_t<M>;
  // Sent in the trace current now (periodic sends below are not part of any one trace).
  return scheduler.AddTimer(scheduler.Now() + delay, absl::ZeroDuration(),
                            [to, msg = T(std::forward<M>(msg)), trace = SavedTrace()]() mutable {
                              ScopedTrace traced(trace.get());
                              to.Tell(std::move(msg));
                            });
}

template <typename P, typename M>
TimerHandle SendPeriodically(Scheduler& scheduler, absl::Duration period, const ActorRef<P>& to,
                             M&& msg) {
  using T = std::decay_t<M>;
  static_assert(std::is_copy_constructible_v<T>, "periodic messages are copied each period");
  return scheduler.AddTimer(scheduler.Now() + period, period,
                            [to, msg = T(std::forward<M>(msg))] { to.Tell(T(msg)); });
}

}  // namespace troupe::internal

#endif  // FRAMEWORK_ACTOR_DELAYED_SEND_H_
