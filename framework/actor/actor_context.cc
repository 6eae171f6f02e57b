#include "framework/actor/actor_context.h"

#include <utility>

namespace troupe {

TimerHandle ActorContext::RunAfter(absl::Duration delay, internal::Closure fn) {
  Scheduler& s = scheduler();
  return Track(s.AddTimer(s.Now() + delay, absl::ZeroDuration(),
                          [cell = internal::CellRef(cell_), generation = cell_->generation(),
                           fn = std::move(fn), trace = SavedTrace(),
                           origin = internal::ReserveOriginToSelf()]() mutable {
                            ScopedTrace traced(trace.get());  // the trace it was armed in
                            internal::ScopedReservedOrigin as_armed(origin);  // a recorded run's
                            cell->EnqueueClosure(std::move(fn), generation);
                          }));
}

}  // namespace troupe
