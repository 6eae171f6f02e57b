// The runtime's own messages between cells (internal): stop, child stopped or failed, watch,
// restart, and closures guarded by the generation of the actor instance that made them.
#ifndef FRAMEWORK_ACTOR_CELL_SIGNALS_H_
#define FRAMEWORK_ACTOR_CELL_SIGNALS_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "framework/actor/actor_cell.h"
#include "framework/message/envelope.h"

namespace troupe::internal {

struct StopSignal {};
struct RestartSignal {};

struct ChildStopped {
  CellRef child;  // the parent may have unlinked it already (a restart, or giving up)
};

struct ChildFailed {
  CellRef child;  // the parent checks it is still one of its children
  absl::Status reason;
};

struct GuardedClosure {
  uint32_t generation;
  Closure fn;
};

template <typename T, typename... Args>
Envelope* MakeSystemEnvelope(uint32_t tag, Args&&... args) {
  auto* e = new MessageEnvelope<T>(tag, std::forward<Args>(args)...);
  e->set_priority(Priority::kSystem);
  return e;
}

}  // namespace troupe::internal

#endif  // FRAMEWORK_ACTOR_CELL_SIGNALS_H_
