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
// Thread safety: Enqueue(), RequestStop(), Ref()/Unref(), id() from any thread. Run() is called
// by one scheduler thread at a time; everything documented "owner only" may be called only
// from inside this actor's turn (its handlers).
#ifndef FRAMEWORK_ACTOR_ACTOR_CELL_H_
#define FRAMEWORK_ACTOR_ACTOR_CELL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
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

class ActorCell final : public Schedulable {
 public:
  // Allocates a cell and its user object in one block; `construct` builds the user object in
  // the storage it is given (if it throws, nothing leaks and the exception propagates).
  // Returns the cell holding its own reference.
  static ActorCell* Create(std::shared_ptr<SystemCore> system, Scheduler* scheduler,
                           ActorCell* parent, uint64_t id, std::string_view type_name,
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

  // Any thread: delivers `e` (ownership passes), or records it as a dead letter.
  void Enqueue(Envelope* e);
  // Any thread: runs `fn` as a message on this actor (a dead letter if it has stopped).
  void EnqueueClosure(Closure fn);
  // Any thread: asks the actor to stop; handled before its queued user messages.
  void RequestStop();

  RunOutcome Run(int budget) override;

  uint64_t id() const { return id_; }
  std::string_view type_name() const { return type_name_; }
  SystemCore& system() const { return *system_; }
  Scheduler& scheduler() const { return *scheduler_; }
  bool stopped() const { return mailbox_.closed(); }

  // ---- Owner only ----
  void StopSelf() { stop_requested_ = true; }
  void AdoptChild(ActorCell* child);  // takes a reference on the child
  void TrackTimer(TimerHandle handle);
  // A coroutine handler started by this actor ended with an exception.
  void FailFromCoroutine(std::exception_ptr error);

 private:
  ActorCell(std::shared_ptr<SystemCore> system, Scheduler* scheduler, ActorCell* parent,
            uint64_t id, std::string_view type_name);
  ~ActorCell();
  void Destroy();
  void DestroyBehavior();
  void Deliver(Envelope* e);
  void UnlinkChild(ActorCell* child);
  void Fail(std::exception_ptr error, std::string_view while_doing);
  void Terminate();

  std::atomic<int32_t> refs_{1};  // the first is the cell's own, released when it terminates
  Mailbox mailbox_;
  Scheduler* const scheduler_;
  const std::shared_ptr<SystemCore> system_;
  const uint64_t id_;
  const std::string_view type_name_;
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
