#include "framework/actor/actor_cell.h"

#include <cstdio>
#include <exception>
#include <new>
#include <utility>

#include "framework/actor/actor.h"
#include "framework/actor/system_core.h"

namespace troupe::internal {
namespace {

struct StopSignal {};

struct ChildStopped {
  ActorCell* child;  // not a reference: the parent's child list holds one
};

template <typename T, typename... Args>
Envelope* MakeSystemEnvelope(uint32_t tag, Args&&... args) {
  auto* e = new MessageEnvelope<T>(tag, std::forward<Args>(args)...);
  e->set_priority(Priority::kSystem);
  return e;
}

}  // namespace

void FailFromCoroutine(ActorCell* owner, std::exception_ptr error) {
  owner->FailFromCoroutine(std::move(error));
}

ActorCell::ActorCell(std::shared_ptr<SystemCore> system, Scheduler* scheduler, ActorCell* parent,
                     uint64_t id, std::string_view type_name)
    : scheduler_(scheduler),
      system_(std::move(system)),
      id_(id),
      type_name_(type_name),
      parent_(parent) {}

ActorCell* ActorCell::Create(std::shared_ptr<SystemCore> system, Scheduler* scheduler,
                             ActorCell* parent, uint64_t id, std::string_view type_name,
                             size_t behavior_size, size_t behavior_align,
                             absl::FunctionRef<ActorBase*(void* storage)> construct) {
  const size_t offset = (sizeof(ActorCell) + behavior_align - 1) / behavior_align * behavior_align;
  void* block = ::operator new(offset + behavior_size);
  ActorCell* cell = new (block) ActorCell(std::move(system), scheduler, parent, id, type_name);
  try {
    cell->behavior_ = construct(static_cast<char*>(block) + offset);
  } catch (...) {
    cell->Destroy();
    throw;
  }
  cell->behavior_->ctx_.cell_ = cell;
  return cell;
}

ActorCell::~ActorCell() { DestroyBehavior(); }

void ActorCell::Destroy() {
  this->~ActorCell();
  ::operator delete(static_cast<void*>(this));
}

void ActorCell::DestroyBehavior() {
  if (behavior_ != nullptr) {
    ActorBase* b = std::exchange(behavior_, nullptr);
    b->~ActorBase();  // the memory belongs to the cell's block
  }
}

void ActorCell::Enqueue(Envelope* e) {
  switch (mailbox_.Push(e)) {
    case Mailbox::PushResult::kQueued:
      return;
    case Mailbox::PushResult::kScheduleNeeded:
      scheduler_->Schedule(this);
      return;
    case Mailbox::PushResult::kClosed:
      system_->Undeliverable(e, id_);
      return;
  }
}

void ActorCell::EnqueueClosure(Closure fn) {
  Enqueue(new MessageEnvelope<Closure>(kClosureTag, std::move(fn)));
}

void ActorCell::RequestStop() {
  if (mailbox_.closed()) return;
  Enqueue(MakeSystemEnvelope<StopSignal>(kStopTag));
}

void ActorCell::AdoptChild(ActorCell* child) {
  child->Ref();
  child->prev_sibling_ = nullptr;
  child->next_sibling_ = first_child_;
  if (first_child_ != nullptr) first_child_->prev_sibling_ = child;
  first_child_ = child;
}

void ActorCell::UnlinkChild(ActorCell* child) {
  if (child->prev_sibling_ != nullptr) {
    child->prev_sibling_->next_sibling_ = child->next_sibling_;
  } else {
    first_child_ = child->next_sibling_;
  }
  if (child->next_sibling_ != nullptr) child->next_sibling_->prev_sibling_ = child->prev_sibling_;
  child->prev_sibling_ = child->next_sibling_ = nullptr;
  child->Unref();
}

void ActorCell::TrackTimer(TimerHandle handle) {
  timers_.push_back(std::move(handle));
  if (timers_.size() >= 2 * timers_pruned_at_) {
    std::erase_if(timers_, [](const TimerHandle& h) { return !h.active(); });
    timers_pruned_at_ = std::max<size_t>(16, timers_.size());
  }
}

void ActorCell::Fail(std::exception_ptr error, std::string_view while_doing) {
  system_->ReportFailure(*this, std::move(error), while_doing);
  stop_requested_ = true;
}

void ActorCell::FailFromCoroutine(std::exception_ptr error) {
  Fail(std::move(error), "a coroutine handler");
}

void ActorCell::Deliver(Envelope* e) {
  try {
    switch (e->tag()) {
      case kStopTag:
        stop_requested_ = true;
        break;
      case kChildStoppedTag: {
        // The child is still listed: only this handler (or our Terminate) unlinks it.
        UnlinkChild(static_cast<MessageEnvelope<ChildStopped>*>(e)->payload.child);
        break;
      }
      case kClosureTag:
        static_cast<MessageEnvelope<Closure>*>(e)->payload();
        break;
      default:
        behavior_->Dispatch(e);
        break;
    }
  } catch (...) {
    Fail(std::current_exception(), e->info()->name);
  }
  DestroyEnvelope(e);
}

RunOutcome ActorCell::Run(int budget) {
  if (!started_) {
    started_ = true;
    try {
      behavior_->OnStart();
    } catch (...) {
      Fail(std::current_exception(), "OnStart");
    }
  }
  // Take what arrived since the last turn, so a stop signal waits at most one turn even behind
  // a backlog already taken in.
  mailbox_.Fetch();
  if (!stop_requested_) {
    for (int i = 0; i < budget; ++i) {
      Envelope* e = mailbox_.Pop();
      if (e == nullptr) {
        if (mailbox_.TryMarkIdle()) return RunOutcome::kIdle;
        continue;  // a producer raced with us: keep going
      }
      Deliver(e);
      if (stop_requested_) break;
    }
  }
  if (stop_requested_) {
    Terminate();
    Unref();  // the cell's own reference: it may be freed now
    return RunOutcome::kDone;
  }
  return RunOutcome::kYield;
}

// How an actor stops, from its own (last) turn:
//  1. Cancel its timers and ask its children to stop; drop the references it held on them.
//  2. Run OnStop(), then destroy the user object (releasing every reference it held).
//  3. Close the mailbox: from now on sends are dead letters. What was still queued becomes dead
//     letters too (requests among them fail with NOT_FOUND).
//  4. Release its names, tell the parent (or the system) and update the live count.
void ActorCell::Terminate() {
  for (TimerHandle& t : timers_) t.Cancel();
  timers_.clear();
  while (first_child_ != nullptr) {
    ActorCell* child = first_child_;
    child->RequestStop();
    UnlinkChild(child);
  }

  if (behavior_ != nullptr) {
    try {
      behavior_->OnStop();
    } catch (...) {
      system_->ReportFailure(*this, std::current_exception(), "OnStop");
    }
    DestroyBehavior();
  }

  Envelope* rest = mailbox_.Close();
  while (rest != nullptr) {
    Envelope* next = rest->next;
    system_->Undeliverable(rest, id_);
    rest = next;
  }

  const bool top_level = !parent_;
  if (parent_) {
    parent_->Enqueue(MakeSystemEnvelope<ChildStopped>(kChildStoppedTag, ChildStopped{this}));
    parent_.reset();
  }
  system_->OnTerminated(this, top_level);
}

}  // namespace troupe::internal
