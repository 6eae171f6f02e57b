// Delayed and periodic sends through a scheduler's timers; used by ActorContext and
// ActorSystem. Thread safety: any thread.
#ifndef FRAMEWORK_ACTOR_DELAYED_SEND_H_
#define FRAMEWORK_ACTOR_DELAYED_SEND_H_

#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "framework/actor/actor_ref.h"
#include "framework/actor/record_hooks.h"
#include "framework/scheduler/scheduler.h"
#include "framework/timer/timer_queue.h"
#include "framework/trace/trace_context.h"

namespace troupe::internal {

template <typename P, typename M>
TimerHandle SendAfter(Scheduler& scheduler, absl::Duration delay, const ActorRef<P>& to, M&& msg) {
  using T = std::decay_t<M>;
  // Sent in the trace current now (periodic sends below are not part of any one trace), and, in a
  // recorded run, as the running actor's send made now, however late the timer fires.
  return scheduler.AddTimer(scheduler.Now() + delay, absl::ZeroDuration(),
                            [to, msg = T(std::forward<M>(msg)), trace = SavedTrace(),
                             origin = ReserveOrigin(to.id())]() mutable {
                              ScopedTrace traced(trace.get());
                              ScopedReservedOrigin as_armed(origin);
                              to.Tell(std::move(msg));
                            });
}

template <typename P, typename M>
TimerHandle SendPeriodically(Scheduler& scheduler, absl::Duration period, const ActorRef<P>& to,
                             M&& msg) {
  using T = std::decay_t<M>;
  static_assert(std::is_copy_constructible_v<T>, "periodic messages are copied each period");
  // In a recorded run every firing has the origin of the send that armed it (they keep their
  // order, so a replay tells them apart).
  return scheduler.AddTimer(scheduler.Now() + period, period,
                            [to, msg = T(std::forward<M>(msg)), origin = ReserveOrigin(to.id())] {
                              ScopedReservedOrigin as_armed(origin);
                              to.Tell(T(msg));
                            });
}

}  // namespace troupe::internal

#endif  // FRAMEWORK_ACTOR_DELAYED_SEND_H_
