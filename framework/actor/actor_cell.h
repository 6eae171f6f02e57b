// ActorCell: the runtime half of an actor - its mailbox, reference count, lifecycle state and
// place in the parent/child tree. The user's half is an ActorBase subclass built in the same
// allocation, right after the cell (Create()). Users never touch cells; they hold ActorRefs (a
// counted pointer to a cell).
//
// Lifetime: a live cell holds a reference to itself, released at the end of its last turn, so
// a scheduled cell always outlives its turn. Its parent's child list and every ActorRef hold
// references too, so a reference stays safe to send to after the actor stopped (the message
// becomes a dead letter). The user object (and everything it holds, e.g. refs to other actors)
// is destroyed when the actor stops, which breaks reference cycles between actors; the memory
// goes with the last reference.
//
// Thread safety: Enqueue(), EnqueueClosure(), EnqueueWhenRoom(), RequestStop(), AddWatcher(),
// Ref()/Unref(), id(), stopped() from any thread. SetRestartable()/SetMailboxLimit() only
// before the cell is first scheduled (SystemCore::Spawn). Run() is called by one scheduler
// thread at a time; everything documented "owner only" may be called only from inside this
// actor's turn (its handlers).
#ifndef FRAMEWORK_ACTOR_ACTOR_CELL_H_
#define FRAMEWORK_ACTOR_ACTOR_CELL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "framework/base/mutex.h"
#include "framework/actor/lifecycle.h"
#include "framework/actor/record_hooks.h"
#include "framework/actor/type_metrics.h"
#include "framework/mailbox/mailbox.h"
#include "framework/message/envelope.h"
#include "framework/scheduler/schedulable.h"
#include "framework/scheduler/scheduler.h"
#include "framework/timer/timer_queue.h"

namespace troupe {

class ActorBase;

namespace internal {

class SystemCore;
class ActorCell;

// Intrusive counted pointer to an ActorCell.
class CellRef {
 public:
  CellRef() = default;
  explicit CellRef(ActorCell* cell);  // takes a new reference
  CellRef(const CellRef& other);
  CellRef(CellRef&& other) noexcept : cell_(std::exchange(other.cell_, nullptr)) {}
  CellRef& operator=(CellRef other) noexcept {
    std::swap(cell_, other.cell_);
    return *this;
  }
  ~CellRef();

  ActorCell* get() const { return cell_; }
  ActorCell* operator->() const { return cell_; }
  explicit operator bool() const { return cell_ != nullptr; }
  void reset() { CellRef().swap(*this); }
  void swap(CellRef& other) noexcept { std::swap(cell_, other.cell_); }

 private:
  ActorCell* cell_ = nullptr;
};

using Closure = absl::AnyInvocable<void()>;
// Rebuilds a supervised actor's user object in its cell's storage (a restart).
using BehaviorMaker = absl::AnyInvocable<ActorBase*(void* storage)>;
inline constexpr uint32_t kNoTag = 0xFFFFFFFF;

// Someone to tell when an actor stops: a monitor (Down at `tag`) or a link (Exit at `tag`, or
// failing the watcher when tag == kNoTag; nothing on a normal stop).
struct Watcher {
  CellRef cell;
  uint32_t tag = kNoTag;
  bool link = false;
};

// Senders waiting for room in a kBackpressure mailbox, oldest first.
struct RoomWaiter {
  Envelope* envelope;  // owned until queued (or given up)
  absl::AnyInvocable<void(absl::Status)> done;
};
struct RoomWaiters {
  Mutex mu;
  std::deque<std::shared_ptr<RoomWaiter>> queue ABSL_GUARDED_BY(mu);
  std::atomic<int> size{0};
};

// A parent's supervision of its children (allocated when first needed).
struct SupervisorState {
  SupervisorOptions options;
  std::deque<absl::Time> restarts;  // within the intensity period
};

class ActorCell final : public Schedulable {
 public:
  // Allocates a cell and its user object in one block; `construct` builds the user object in
  // the storage it is given (if it throws, nothing leaks and the exception propagates).
  // Returns the cell holding its own reference.
  static ActorCell* Create(std::shared_ptr<SystemCore> system, Scheduler* scheduler,
                           ActorCell* parent, uint64_t id, const std::string_view* type_name,
                           size_t behavior_size, size_t behavior_align,
                           absl::FunctionRef<ActorBase*(void* storage)> construct);
  // The largest alignment a user actor class may have.
  static constexpr size_t kMaxBehaviorAlign = alignof(std::max_align_t);

  ActorCell(const ActorCell&) = delete;
  ActorCell& operator=(const ActorCell&) = delete;

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Destroy();
  }

  // Any thread: delivers `e` (ownership passes). False if it was refused instead: a dead letter
  // (the actor has stopped, or its bounded mailbox is full), a request among them failed.
  bool Enqueue(Envelope* e);
  // Any thread: runs `fn` as a message on this actor (a dead letter if it has stopped), unless
  // the actor was restarted since `generation` (then `fn` is destroyed unrun): closures made by
  // one instance of a supervised actor never run on its successor.
  static constexpr uint32_t kAnyGeneration = 0xFFFFFFFF;
  void EnqueueClosure(Closure fn, uint32_t generation = kAnyGeneration);
  // Any thread, approximate: false while a bounded mailbox holds its capacity of user messages
  // (a plain send now would be refused, dropped or kept waiting); always true if unbounded.
  bool HasRoom() const {
    return limit_.capacity == 0 ||
           queued_.load(std::memory_order_relaxed) < static_cast<int64_t>(limit_.capacity);
  }
  // Any thread: asks the actor to stop; handled before its queued user messages.
  void RequestStop();
  // Any thread: tells `watcher` when this actor stops (at once if it has stopped).
  void AddWatcher(Watcher watcher);
  // Set by SystemCore::Spawn before the actor first runs.
  void SetRestartable(std::unique_ptr<BehaviorMaker> maker) {
    extras().restart = std::move(maker);
    restartable_ = true;
  }
  void SetMailboxLimit(MailboxLimit limit) {
    limit_ = limit;
    if (limit.policy == OverflowPolicy::kBackpressure) {
      extras().room = std::make_unique<RoomWaiters>();
    }
  }
  // Any thread: queues `e` (a plain message), waiting for room in a kBackpressure mailbox up to
  // `timeout`, behind earlier waiters. `done` runs once, on any thread: OK once queued,
  // DEADLINE_EXCEEDED (no room in time), NOT_FOUND (stopped), RESOURCE_EXHAUSTED (full, and
  // the policy is not kBackpressure).
  void EnqueueWhenRoom(Envelope* e, absl::Duration timeout,
                       absl::AnyInvocable<void(absl::Status)> done);

  RunOutcome Run(int budget) override;
  uint64_t stable_id() const override { return id_; }
  // Before the first run, in a recorded or replayed system (record_hooks.h).
  void SetTrack(ActorTrack* track) { extras().track = track; }
  // Before the first run: count this actor in its type's metrics (type_metrics.h).
  void SetTypeMetrics(TypeMetrics* metrics) { type_metrics_ = metrics; }

  uint64_t id() const { return id_; }
  std::string_view type_name() const { return *type_name_; }
  SystemCore& system() const { return *system_; }
  Scheduler& scheduler() const { return *scheduler_; }
  bool stopped() const { return mailbox_.closed(); }
  // Owner only: which instance of the actor runs (a restart increments it).
  uint32_t generation() const { return generation_; }

  // ---- Owner only ----
  void StopSelf() { stop_requested_ = true; }
  void AdoptChild(ActorCell* child);  // takes a reference on the child
  void TrackTimer(TimerHandle handle);
  // A coroutine handler started by this actor ended with an exception.
  void FailFromCoroutine(std::exception_ptr error);
  // A handler failed (returned `reason`): supervised actors are suspended and restarted,
  // others stop.
  void FailWith(absl::Status reason);
  void SetSupervisorOptions(const SupervisorOptions& options);

 private:
  ActorCell(std::shared_ptr<SystemCore> system, Scheduler* scheduler, ActorCell* parent,
            uint64_t id, const std::string_view* type_name);
  ~ActorCell();
  void Destroy();
  void DestroyBehavior();
  template <bool kTracked>
  ABSL_ATTRIBUTE_ALWAYS_INLINE RunOutcome RunTurn(int budget);
  Envelope* NextTracked();
  void Deliver(Envelope* e);
  void DeliverTraced(Envelope* e);
  void DeliverMeasured(Envelope* e);
  void UnlinkChild(ActorCell* child);
  void Fail(std::exception_ptr error, std::string_view while_doing);
  void Terminate();
  // Supervision (actor_cell_supervision.cc).
  void Suspend(absl::Status reason);
  void OnChildFailed(const CellRef& child, const absl::Status& reason);
  void Restart();
  void NotifyWatcher(const Watcher& watcher, const absl::Status& reason);
  void StopChildren();
  // Bounded mailboxes: true if `e` may be queued; else it was refused and disposed of.
  bool Admit(Envelope* e);
  bool Counted(const Envelope* e) const {
    return limit_.capacity != 0 && e->tag() < kFirstReservedTag &&
           e->priority() == Priority::kUser;
  }
  Envelope* PopUser();
  // Every push into the mailbox goes through here: a measured type counts what goes in.
  Mailbox::PushResult Push(Envelope* e);
  void AdmitWaiters();
  void ExpireWaiter(const std::shared_ptr<RoomWaiter>& waiter);
  void FailWaiters();

  std::atomic<int32_t> refs_{1};  // the first is the cell's own, released when it terminates
  Mailbox mailbox_;
  Scheduler* const scheduler_;
  const std::shared_ptr<SystemCore> system_;
  const uint64_t id_;
  const std::string_view* const type_name_;  // static storage (kTypeName<A>)
  // Owner-only state. The user object lives in the same allocation, right after the cell; it is
  // destroyed when the actor stops, the memory when the last reference goes.
  ActorBase* behavior_ = nullptr;
  CellRef parent_;
  // Children: an intrusive doubly-linked list through the children's sibling links, which
  // only this (the parent's) turn touches. Each listed child holds one reference.
  ActorCell* first_child_ = nullptr;
  ActorCell* prev_sibling_ = nullptr;  // owned by the parent's turn
  ActorCell* next_sibling_ = nullptr;  // owned by the parent's turn
  std::vector<TimerHandle> timers_;
  size_t timers_pruned_at_ = 16;
  bool started_ = false;
  bool stop_requested_ = false;
  bool suspended_ = false;  // failed, waiting for its supervisor: system messages only
  bool listed_ = false;     // in its parent's child list; owned by the parent's turn
  bool restartable_ = false;  // supervised (set before the first run, then read-only)
  uint16_t storage_offset_ = 0;  // where the user object lives in the cell's block
  uint32_t generation_ = 0;
  MailboxLimit limit_;
  TypeMetrics* type_metrics_ = nullptr;  // set before the first run, then read-only
  std::atomic<int64_t> queued_{0};  // counted user messages in the mailbox (bounded only)
  absl::Status exit_reason_;        // written before the mailbox closes, read after
  // What few actors use, behind one pointer (allocated when first needed: before the first run
  // for `restart`, `room` and `track`, which other threads read or every turn tests; in the
  // owner's turns for the rest).
  struct Extras {
    std::vector<Watcher> watchers;
    std::unique_ptr<BehaviorMaker> restart;  // a supervised child
    std::unique_ptr<RoomWaiters> room;       // kBackpressure only
    std::optional<SupervisorState> supervision;  // once a child failed or options were set
    ActorTrack* track = nullptr;  // a recorded or replayed system's (set before the first run)
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  RoomWaiters& room() const { return *extras_->room; }  // kBackpressure only
  ActorTrack* track() const { return extras_ ? extras_->track : nullptr; }
  bool backpressure() const { return limit_.policy == OverflowPolicy::kBackpressure; }
  std::unique_ptr<Extras> extras_;
};

inline CellRef::CellRef(ActorCell* cell) : cell_(cell) {
  if (cell_ != nullptr) cell_->Ref();
}
inline CellRef::CellRef(const CellRef& other) : cell_(other.cell_) {
  if (cell_ != nullptr) cell_->Ref();
}
inline CellRef::~CellRef() {
  if (cell_ != nullptr) cell_->Unref();
}

}  // namespace internal
}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_ACTOR_CELL_H_
