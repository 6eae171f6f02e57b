// Supervision: a supervised child that fails is suspended (its mailbox kept) and its parent
// decides - restart it (and, by strategy, its siblings) after a backoff, or, past the restart
// intensity, give up: stop its children and fail itself (escalation).
#include <algorithm>
#include <deque>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "framework/actor/actor.h"
#include "framework/actor/actor_cell.h"
#include "framework/actor/cell_signals.h"
#include "framework/actor/system_core.h"

namespace troupe::internal {

void ActorCell::SetSupervisorOptions(const SupervisorOptions& options) {
  Extras& extras = this->extras();
  if (!extras.supervision) extras.supervision.emplace();
  extras.supervision->options = options;
}

void ActorCell::Suspend(absl::Status reason) {
  suspended_ = true;
  parent_->Enqueue(MakeSystemEnvelope<ChildFailed>(
      kChildFailedTag, ChildFailed{CellRef(this), std::move(reason)}));
}

void ActorCell::OnChildFailed(const CellRef& child, const absl::Status& reason) {
  if (stop_requested_ || !child->listed_) return;  // it was stopped meanwhile
  Extras& extras = this->extras();
  if (!extras.supervision) extras.supervision.emplace();
  SupervisorState& state = *extras.supervision;
  const SupervisorOptions& options = state.options;
  const absl::Time now = scheduler_->Now();
  while (!state.restarts.empty() && state.restarts.front() <= now - options.within) {
    state.restarts.pop_front();
  }
  if (static_cast<int>(state.restarts.size()) >= options.max_restarts) {
    // Give up: the children go, and this actor fails in turn (its own supervisor decides).
    absl::Status escalated(
        reason.code(),
        absl::StrCat("gave up after ", state.restarts.size(), " restart(s) within ",
                     absl::FormatDuration(options.within), ": child ", child->id(),
                     " failed: ", reason.message()));
    state.restarts.clear();
    StopChildren();
    FailWith(std::move(escalated));
    return;
  }
  state.restarts.push_back(now);

  absl::Duration delay = absl::ZeroDuration();
  if (options.backoff > absl::ZeroDuration()) {
    delay = options.backoff;
    for (size_t i = 1; i < state.restarts.size() && delay < options.max_backoff; ++i) delay *= 2;
    delay = std::min(delay, options.max_backoff);
  }
  std::vector<CellRef> targets;
  if (options.strategy == RestartStrategy::kOneForOne) {
    targets.push_back(child);
  } else {
    for (ActorCell* c = first_child_; c != nullptr; c = c->next_sibling_) {
      if (!c->restartable_) continue;  // a plain child is not restarted with its siblings
      if (options.strategy == RestartStrategy::kOneForAll ||
          c->id() >= child->id()) {  // ids grow with each spawn: spawned after it
        targets.emplace_back(c);
      }
    }
  }
  for (CellRef& target : targets) {
    auto send = [target = std::move(target)] {
      target->Enqueue(MakeSystemEnvelope<RestartSignal>(kRestartTag));
    };
    if (delay == absl::ZeroDuration()) {
      send();
    } else {
      TrackTimer(scheduler_->AddTimer(now + delay, absl::ZeroDuration(), std::move(send)));
    }
  }
}

void ActorCell::Restart() {
  if (!restartable_ || stop_requested_) return;
  StopChildren();  // and the old instance's timers
  if (behavior_ != nullptr) {
    if (started_) {
      try {
        behavior_->OnStop();
      } catch (...) {
        system_->ReportFailure(*this, std::current_exception(), "OnStop");
      }
    }
    DestroyBehavior();
  }
  ++generation_;  // closures made by the old instance will not run
  suspended_ = false;
  started_ = false;  // the new instance's OnStart runs before its next message
  system_->CountRestart();
  try {
    behavior_ = (*extras_->restart)(reinterpret_cast<char*>(this) + storage_offset_);
    behavior_->ctx_.cell_ = this;
  } catch (...) {
    behavior_ = nullptr;
    started_ = true;  // nothing to start; the supervisor hears of the failure
    Fail(std::current_exception(), "the constructor");
  }
}

}  // namespace troupe::internal
