#include "framework/actor/actor_cell.h"

#include <cstdio>
#include <exception>
#include <new>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "framework/actor/actor.h"
#include "framework/actor/cell_signals.h"
#include "framework/actor/record_codec.h"
#include "framework/actor/system_core.h"
#include "framework/base/describe_exception.h"
#include "framework/message/envelope_trace.h"
#include "framework/trace/span_sink.h"
#include "absl/time/clock.h"

namespace troupe::internal {
namespace {

// A stop from outside (the system shutting down) is part of a recorded run's input.
std::string EncodeStop(const StopSignal&) { return ""; }
absl::StatusOr<StopSignal> DecodeStop(std::string_view) { return StopSignal{}; }
TROUPE_RECORD_CODEC(StopSignal, EncodeStop, DecodeStop);

}  // namespace

void FailFromCoroutine(ActorCell* owner, std::exception_ptr error) {
  owner->FailFromCoroutine(std::move(error));
}

ActorCell::ActorCell(std::shared_ptr<SystemCore> system, Scheduler* scheduler, ActorCell* parent,
                     uint64_t id, const std::string_view* type_name)
    : scheduler_(scheduler),
      system_(std::move(system)),
      id_(id),
      type_name_(type_name),
      parent_(parent) {}

ActorCell* ActorCell::Create(std::shared_ptr<SystemCore> system, Scheduler* scheduler,
                             ActorCell* parent, uint64_t id, const std::string_view* type_name,
                             size_t behavior_size, size_t behavior_align,
                             absl::FunctionRef<ActorBase*(void* storage)> construct) {
  const size_t offset = (sizeof(ActorCell) + behavior_align - 1) / behavior_align * behavior_align;
  void* block = ::operator new(offset + behavior_size);
  ActorCell* cell = new (block) ActorCell(std::move(system), scheduler, parent, id, type_name);
  cell->storage_offset_ = static_cast<uint16_t>(offset);
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

Mailbox::PushResult ActorCell::Push(Envelope* e) {
  if (type_metrics_ == nullptr) return mailbox_.Push(e);
  type_metrics_->enqueued.Add();  // before the consumer can see it
  const Mailbox::PushResult result = mailbox_.Push(e);
  if (result == Mailbox::PushResult::kClosed) type_metrics_->dequeued.Add();  // never went in
  return result;
}

bool ActorCell::Enqueue(Envelope* e) {
  NoteSender(e, id_);  // a recorded run: which actor sent it, and its how-manieth send to us
  // Sent while a trace is current (a traced handler's sends, a gateway call): it carries it.
  if (const TraceContext* trace = CurrentTrace();
      trace != nullptr && e->priority() == Priority::kUser) {
    AttachTrace(e, *trace);
  }
  const bool counted = Counted(e);
  if (counted && !Admit(e)) return false;
  switch (Push(e)) {
    case Mailbox::PushResult::kQueued:
      return true;
    case Mailbox::PushResult::kScheduleNeeded:
      scheduler_->Schedule(this);
      return true;
    case Mailbox::PushResult::kClosed:
      if (counted) queued_.fetch_sub(1, std::memory_order_relaxed);
      system_->Undeliverable(e, id_);
      return false;
  }
  return false;
}

bool ActorCell::Admit(Envelope* e) {
  const int64_t queued = queued_.fetch_add(1, std::memory_order_seq_cst) + 1;
  const int64_t capacity = static_cast<int64_t>(limit_.capacity);
  if (queued <= capacity) return true;
  // Drop-oldest makes room on the consumer's side (PopUser); if arrivals outrun even that
  // (twice the capacity queued), the arrival is dropped instead, so memory stays bounded.
  if (limit_.policy == OverflowPolicy::kDropOldest && queued <= 2 * capacity) return true;
  queued_.fetch_sub(1, std::memory_order_seq_cst);
  system_->Undeliverable(e, id_, UndeliverableReason::kMailboxFull);
  return false;
}

Envelope* ActorCell::PopUser() {
  for (;;) {
    Envelope* e = mailbox_.Pop();
    if (e == nullptr || !Counted(e)) return e;
    const int64_t before = queued_.fetch_sub(1, std::memory_order_seq_cst);
    if (limit_.policy == OverflowPolicy::kDropOldest &&
        before > static_cast<int64_t>(limit_.capacity)) {
      if (type_metrics_ != nullptr) type_metrics_->dequeued.Add();
      system_->Undeliverable(e, id_, UndeliverableReason::kMailboxFull);
      continue;
    }
    if (backpressure() && room().size.load(std::memory_order_seq_cst) > 0) AdmitWaiters();
    return e;
  }
}

void ActorCell::EnqueueClosure(Closure fn, uint32_t generation) {
  Enqueue(new MessageEnvelope<GuardedClosure>(kClosureTag,
                                              GuardedClosure{generation, std::move(fn)}));
}

void ActorCell::RequestStop() {
  if (mailbox_.closed()) return;
  Enqueue(MakeSystemEnvelope<StopSignal>(kStopTag));
}

void ActorCell::AddWatcher(Watcher watcher) {
  auto* e = static_cast<MessageEnvelope<Watcher>*>(
      MakeSystemEnvelope<Watcher>(kWatchTag, std::move(watcher)));
  NoteSender(e, id_);
  switch (Push(e)) {
    case Mailbox::PushResult::kQueued:
      return;  // handled in a turn, or by Terminate if the actor stops first
    case Mailbox::PushResult::kScheduleNeeded:
      scheduler_->Schedule(this);
      return;
    case Mailbox::PushResult::kClosed:
      // Stopped already: tell the watcher now. exit_reason_ was written before the mailbox
      // closed; closed() reads the head with acquire.
      if (mailbox_.closed()) NotifyWatcher(e->payload, exit_reason_);
      DestroyEnvelope(e);
      return;
  }
}

void ActorCell::NotifyWatcher(const Watcher& watcher, const absl::Status& shared_reason) {
  // Each notification gets its own copy: the reason may be read by several threads at once, and
  // a shared Status rep is reference-counted inside (uninstrumented) Abseil.
  absl::Status reason(shared_reason.code(), std::string(shared_reason.message()));
  if (!watcher.link) {
    watcher.cell->Enqueue(MakeSystemEnvelope<Down>(watcher.tag, Down{id_, std::move(reason)}));
  } else if (!reason.ok()) {
    if (watcher.tag != kNoTag) {
      watcher.cell->Enqueue(MakeSystemEnvelope<Exit>(watcher.tag, Exit{id_, std::move(reason)}));
    } else {
      watcher.cell->Enqueue(MakeSystemEnvelope<absl::Status>(
          kLinkFailedTag, absl::Status(reason.code(), absl::StrCat("linked actor ", id_,
                                                                   " failed: ",
                                                                   reason.message()))));
    }
  }
}

void ActorCell::AdoptChild(ActorCell* child) {
  child->Ref();
  child->listed_ = true;
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
  child->listed_ = false;
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
  FailWith(absl::InternalError(absl::StrCat(absl::string_view(while_doing.data(),
                                                              while_doing.size()),
                                            " threw: ", DescribeException(error))));
}

void ActorCell::FailWith(absl::Status reason) {
  system_->ReportFailure(*this, reason);
  if (stop_requested_ || suspended_) return;
  if (restartable_ && parent_) {
    Suspend(std::move(reason));
  } else {
    exit_reason_ = std::move(reason);
    stop_requested_ = true;
  }
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
        ActorCell* child = static_cast<MessageEnvelope<ChildStopped>*>(e)->payload.child.get();
        if (child->listed_) UnlinkChild(child);  // else StopChildren already did
        break;
      }
      case kClosureTag: {
        GuardedClosure& closure = static_cast<MessageEnvelope<GuardedClosure>*>(e)->payload;
        if (closure.generation == generation_ || closure.generation == kAnyGeneration) {
          closure.fn();
        }
        break;
      }
      case kWatchTag: {
        extras().watchers.push_back(std::move(static_cast<MessageEnvelope<Watcher>*>(e)->payload));
        break;
      }
      case kChildFailedTag: {
        auto& failed = static_cast<MessageEnvelope<ChildFailed>*>(e)->payload;
        OnChildFailed(failed.child, failed.reason);
        break;
      }
      case kRestartTag:
        Restart();
        break;
      case kLinkFailedTag:
        FailWith(static_cast<MessageEnvelope<absl::Status>*>(e)->payload);
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

// The handler runs as a new span of the message's trace: what it sends carries that span as
// their parent, and a sampled trace's span is recorded when the handler returns.
void ActorCell::DeliverTraced(Envelope* e) {
  const TraceContext parent = TakeTrace(e);
  const TraceContext mine = parent.Child();
  SpanSink* sink = mine.sampled() ? system_->span_sink() : nullptr;
  const std::string_view message = e->info()->name;  // static; e is gone after Deliver
  const absl::Time start = sink != nullptr ? absl::Now() : absl::InfinitePast();
  {
    ScopedTrace scope(&mine);
    Deliver(e);
  }
  if (sink == nullptr) return;
  Span span;
  span.context = mine;
  span.parent_span_id = parent.span_id;
  span.kind = Span::Kind::kActor;
  span.name = std::string(message);
  span.start = start;
  span.duration = absl::Now() - start;
  span.attributes = {{"actor_type", std::string(*type_name_)}, {"actor_id", absl::StrCat(id_)}};
  sink->Record(std::move(span));
}

// An actor of a measured type (type_metrics.h): the handler is timed and counted.
void ActorCell::DeliverMeasured(Envelope* e) {
  type_metrics_->dequeued.Add();
  const int64_t start = absl::GetCurrentTimeNanos();
  if (e->traced()) {
    DeliverTraced(e);
  } else {
    Deliver(e);
  }
  type_metrics_->handler_seconds.Observe(static_cast<double>(absl::GetCurrentTimeNanos() - start) *
                                         1e-9);
  type_metrics_->handled.Add();
}

// A recorded or replayed actor's next message: the hooks choose (record_hooks.h).
Envelope* ActorCell::NextTracked() {
  ActorTrack* track = extras_->track;
  return track->hooks->Next(
      *track, [this] { return suspended_ ? mailbox_.PopSystem() : PopUser(); },
      [this] { return PopUser(); });
}

template <bool kTracked>
inline RunOutcome ActorCell::RunTurn(int budget) {
  // A tracked actor's sends (including its stop's) carry their origin while its turn runs.
  [[maybe_unused]] std::optional<ScopedSendingTrack> sending;
  if constexpr (kTracked) sending.emplace(extras_->track);
  TurnActivity* activity = CurrentTurnActivity();  // the blocked-loop detector's view of us
  if (activity != nullptr) activity->SetActor(type_name_, id_);
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
      // A suspended actor (failed, awaiting its supervisor) takes system messages only.
      Envelope* e;
      if constexpr (kTracked) {
        e = NextTracked();
      } else {
        e = suspended_ ? mailbox_.PopSystem() : PopUser();
      }
      if (e == nullptr) {
        if constexpr (kTracked) {
          if (extras_->track->hooks->RetryLater(*extras_->track)) return RunOutcome::kYield;
        }
        if (mailbox_.TryMarkIdle()) return RunOutcome::kIdle;
        continue;  // a producer raced with us: keep going
      }
      if (activity != nullptr) activity->SetMessage(&e->info()->name);
      if (type_metrics_ != nullptr) {
        DeliverMeasured(e);
      } else if (e->traced()) {
        DeliverTraced(e);
      } else {
        Deliver(e);
      }
      if (stop_requested_ || !started_) break;  // stopping, or restarted: OnStart comes first
    }
  }
  if (stop_requested_) {
    if constexpr (kTracked) {
      ActorTrack* track = extras_->track;
      for (Envelope* held : track->hooks->Stopped(*track)) system_->Undeliverable(held, id_);
    }
    Terminate();
    Unref();  // the cell's own reference: it may be freed now
    return RunOutcome::kDone;
  }
  return RunOutcome::kYield;
}

RunOutcome ActorCell::Run(int budget) {
  return track() == nullptr ? RunTurn<false>(budget) : RunTurn<true>(budget);
}

// How an actor stops, from its own (last) turn:
//  1. Cancel its timers and ask its children to stop; drop the references it held on them.
//  2. Run OnStop(), then destroy the user object (releasing every reference it held).
//  3. Close the mailbox: from now on sends are dead letters. What was still queued becomes dead
//     letters too (requests among them fail with NOT_FOUND).
//  4. Release its names, tell the parent (or the system) and update the live count.
void ActorCell::StopChildren() {
  for (TimerHandle& t : timers_) t.Cancel();
  timers_.clear();
  while (first_child_ != nullptr) {
    ActorCell* child = first_child_;
    child->RequestStop();
    UnlinkChild(child);
  }
}

void ActorCell::Terminate() {
  StopChildren();

  if (behavior_ != nullptr) {
    try {
      behavior_->OnStop();
    } catch (...) {
      system_->ReportFailure(*this, std::current_exception(), "OnStop");
    }
    DestroyBehavior();
  }

  // Watchers learn the reason; watch requests still queued are answered like the others.
  Envelope* rest = mailbox_.Close();
  std::vector<Watcher> watchers;
  if (extras_) watchers = std::move(extras_->watchers);
  while (rest != nullptr) {
    Envelope* next = rest->next;
    if (type_metrics_ != nullptr) type_metrics_->dequeued.Add();
    if (rest->tag() == kWatchTag) {
      watchers.push_back(std::move(static_cast<MessageEnvelope<Watcher>*>(rest)->payload));
      DestroyEnvelope(rest);
    } else {
      system_->Undeliverable(rest, id_);
    }
    rest = next;
  }
  for (const Watcher& w : watchers) NotifyWatcher(w, exit_reason_);
  if (backpressure()) FailWaiters();

  const bool top_level = !parent_;
  if (parent_) {
    parent_->Enqueue(
        MakeSystemEnvelope<ChildStopped>(kChildStoppedTag, ChildStopped{CellRef(this)}));
    parent_.reset();
  }
  system_->OnTerminated(this, top_level);
}

}  // namespace troupe::internal
