// Request/response plumbing: AskState (one pending request), Promise<R> (the responder's side)
// and RequestEnvelope (a request message carrying its Promise).
//
// A request completes exactly once, with the first of: the responder's reply, its error, the
// deadline (DEADLINE_EXCEEDED), the asker cancelling (AskHandle::Cancel), the target being stopped
// (NOT_FOUND, at once), or the Promise being dropped unanswered (CANCELLED). The result reaches an
// asking actor as a message, so its continuation runs inside that actor's turn; a foreign thread
// gets it through a std::future or a callback. When the asker gives up (deadline or cancel), a
// responder that registered ActorContext::OnCancel hears of it as a message, so it can stop work
// nobody waits for.
//
// Thread safety: AskState and AskHandle from any thread; a Promise is owned by one handler at a
// time (movable, not copyable).
#ifndef FRAMEWORK_ACTOR_ASK_H_
#define FRAMEWORK_ACTOR_ASK_H_

#include <atomic>
#include <future>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "framework/actor/actor_cell.h"
#include "framework/base/mutex.h"
#include "framework/message/envelope.h"
#include "framework/timer/timer_queue.h"
#include "framework/trace/trace_context.h"

namespace troupe {

template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};

namespace internal {

// What every pending request shares, whatever its reply type: the count of references, the
// once-only completion flag, the deadline timer, and the responder's cancellation hook.
class AskStateBase {
 public:
  virtual ~AskStateBase() = default;

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // The asker's side gives up (deadline, client cancellation): completes the request with the
  // error `status` unless it already completed, and tells the responder through its hook.
  bool Cancel(absl::Status status) {
    if (done_.exchange(true, std::memory_order_acq_rel)) return false;
    CellRef hook_cell;
    uint32_t hook_generation;
    absl::AnyInvocable<void(absl::Status)> hook;
    {
      MutexLock lock(&mu_);
      ReleaseTimerLocked();
      cancelled_ = Unshared(status);
      hook_cell = std::move(hook_cell_);
      hook_generation = hook_generation_;
      hook = std::move(hook_);
    }
    if (hook) RunHook(hook_cell, hook_generation, std::move(hook), Unshared(status));
    DeliverError(std::move(status));
    return true;
  }

  // The responder's side: `hook(status)` runs as a message on `cell` if the asker gives up
  // before the request is answered (at once if it already has). Replaces an earlier hook.
  // Called from `cell`'s own turn.
  void SetCancelHook(CellRef cell, absl::AnyInvocable<void(absl::Status)> hook) {
    absl::Status cancelled;
    const uint32_t generation = cell->generation();
    {
      MutexLock lock(&mu_);
      if (cancelled_.ok()) {
        if (answered_) return;  // the hook can never run
        hook_cell_ = std::move(cell);
        hook_generation_ = generation;
        hook_ = std::move(hook);
        return;
      }
      cancelled = Unshared(cancelled_);
    }
    RunHook(cell, generation, std::move(hook), std::move(cancelled));
  }

  // The deadline timer, cancelled on completion so an answered ask frees its timer entry.
  void SetTimer(TimerHandle timer) {
    MutexLock lock(&mu_);
    if (done()) {
      timer.Cancel();  // completed before the timer was stored
      return;
    }
    timer_ = std::move(timer);
  }
  bool done() const { return done_.load(std::memory_order_acquire); }

 protected:
  // Claims the completion for the responder's side; false if it was too late.
  bool ClaimForResponder() {
    if (done_.exchange(true, std::memory_order_acq_rel)) return false;
    CellRef hook_cell;
    absl::AnyInvocable<void(absl::Status)> hook;
    MutexLock lock(&mu_);
    ReleaseTimerLocked();
    answered_ = true;
    hook_cell = std::move(hook_cell_);  // answered: the hook is dropped (outside the lock)
    hook = std::move(hook_);
    return true;
  }
  virtual void DeliverError(absl::Status status) = 0;

 private:
  // A copy that shares no reference-counted payload with `s`: each thread gets its own, so no
  // Status rep is released on one thread while another still copies it.
  static absl::Status Unshared(const absl::Status& s) {
    return absl::Status(s.code(), std::string(s.message()));
  }
  static void RunHook(const CellRef& cell, uint32_t generation,
                      absl::AnyInvocable<void(absl::Status)> hook, absl::Status status) {
    if (!cell) return;
    cell->EnqueueClosure(
        [hook = std::move(hook), status = std::move(status)]() mutable { hook(status); },
        generation);
  }
  void ReleaseTimerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    timer_.Cancel();
    timer_ = TimerHandle();  // the timer's callback refers to us: break the cycle
  }

  std::atomic<int> refs_{1};
  std::atomic<bool> done_{false};
  Mutex mu_;
  TimerHandle timer_ ABSL_GUARDED_BY(mu_);
  absl::Status cancelled_ ABSL_GUARDED_BY(mu_);  // non-OK once the asker gave up
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  CellRef hook_cell_ ABSL_GUARDED_BY(mu_);
  uint32_t hook_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::AnyInvocable<void(absl::Status)> hook_ ABSL_GUARDED_BY(mu_);
};

template <typename R>
class AskState : public AskStateBase {
 public:
  // Delivers `result` from the responder's side if nothing was delivered yet. Returns false if
  // it was too late.
  bool TryComplete(absl::StatusOr<R> result) {
    if (!ClaimForResponder()) return false;
    Deliver(std::move(result));
    return true;
  }

 protected:
  virtual void Deliver(absl::StatusOr<R> result) = 0;

 private:
  void DeliverError(absl::Status status) final { Deliver(absl::StatusOr<R>(std::move(status))); }
};

// Counted pointer to an AskState.
template <typename R>
class AskStateRef {
 public:
  AskStateRef() = default;
  explicit AskStateRef(AskState<R>* s, bool adopt) : state_(s) {
    if (!adopt && state_ != nullptr) state_->Ref();
  }
  AskStateRef(const AskStateRef& o) : AskStateRef(o.state_, false) {}
  AskStateRef(AskStateRef&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  AskStateRef& operator=(AskStateRef o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~AskStateRef() {
    if (state_ != nullptr) state_->Unref();
  }
  AskState<R>* operator->() const { return state_; }
  AskState<R>* get() const { return state_; }
  explicit operator bool() const { return state_ != nullptr; }

 private:
  AskState<R>* state_ = nullptr;
};

}  // namespace internal

// The asker's handle on a request it sent (returned by the callback forms of Ask). Cancel()
// completes the request with an error (CANCELLED by default) unless it already completed; the
// responder, if it asked to hear of it (ActorContext::OnCancel), gets the status. Copyable; any
// thread.
class AskHandle {
 public:
  AskHandle() = default;
  explicit AskHandle(internal::AskStateBase* state) : state_(state) {
    if (state_ != nullptr) state_->Ref();
  }
  AskHandle(const AskHandle& o) : AskHandle(o.state_) {}
  AskHandle(AskHandle&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  AskHandle& operator=(AskHandle o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~AskHandle() {
    if (state_ != nullptr) state_->Unref();
  }

  // True if this call completed the request (false: it was already answered or cancelled).
  bool Cancel(absl::Status status = absl::CancelledError("the asker cancelled the request")) {
    return state_ != nullptr && state_->Cancel(std::move(status));
  }
  bool done() const { return state_ == nullptr || state_->done(); }

 private:
  internal::AskStateBase* state_ = nullptr;
};

namespace internal {

// The asker is an actor: the result runs `continuation(StatusOr<R>)` as a message on it.
template <typename R, typename F>
class ActorAskState final : public AskState<R> {
 public:
  // Built in the asker's turn.
  ActorAskState(CellRef asker, F continuation)
      : asker_(std::move(asker)),
        generation_(asker_->generation()),
        continuation_(std::move(continuation)) {}

 private:
  void Deliver(absl::StatusOr<R> result) override {
    // The continuation goes on in the asker's trace, whichever thread answers (a node link's,
    // a timer's on timeout).
    ScopedTrace traced(trace_.get());
    asker_->EnqueueClosure(
        [f = std::move(continuation_), r = std::move(result)]() mutable { f(std::move(r)); },
        generation_);
    asker_.reset();
  }
  CellRef asker_;
  uint32_t generation_;  // a reply to an instance that was since restarted is dropped
  F continuation_;
  const SavedTrace trace_;  // the asker's, at the ask
};

// The asker is a foreign thread waiting on a std::future.
template <typename R>
class FutureAskState final : public AskState<R> {
 public:
  std::future<absl::StatusOr<R>> future() { return promise_.get_future(); }

 private:
  void Deliver(absl::StatusOr<R> result) override { promise_.set_value(std::move(result)); }
  std::promise<absl::StatusOr<R>> promise_;
};

// The asker is code outside any actor that wants a callback: `done(StatusOr<R>)` runs once, on
// the thread that completes the ask (the responder's worker, or the deadline timer's). It must
// not block.
template <typename R, typename F>
class CallbackAskState final : public AskState<R> {
 public:
  explicit CallbackAskState(F done) : done_(std::move(done)) {}

 private:
  void Deliver(absl::StatusOr<R> result) override { done_(std::move(result)); }
  F done_;
};

}  // namespace internal

// The responder's handle on one request. Reply() or Fail() at most once, from the actor that
// received the request (later, e.g. after its own ask, is fine). Dropping a Promise that was
// never answered fails the request with CANCELLED, so an asker never waits for a reply that
// cannot come.
template <typename R>
class Promise {
 public:
  Promise() = default;
  explicit Promise(internal::AskStateRef<R> state) : state_(std::move(state)) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& o) noexcept {
    if (this != &o) {
      Abandon();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ~Promise() { Abandon(); }

  // Completes the request with a value, or with the status of a StatusOr. Returns false if the
  // request had already completed (deadline passed): the reply is dropped safely.
  bool Reply(R value) { return Complete(absl::StatusOr<R>(std::move(value))); }
  bool Fail(absl::Status status) {
    if (status.ok()) status = absl::InternalError("Promise::Fail called with an OK status");
    return Complete(absl::StatusOr<R>(std::move(status)));
  }
  bool Complete(absl::StatusOr<R> result) {
    if (!state_) return false;
    auto state = std::move(state_);
    return state->TryComplete(std::move(result));
  }

  // True while the request can still be answered (not answered, not timed out, not cancelled).
  bool pending() const { return state_ && !state_->done(); }

 private:
  friend class ActorContext;  // OnCancel
  void Abandon() {
    if (state_) Complete(absl::CancelledError("the request was dropped without a reply"));
  }
  internal::AskStateRef<R> state_;
};

namespace internal {

template <typename T, typename R>
struct RequestEnvelope final : Envelope {
  template <typename M>
  RequestEnvelope(uint32_t t, M&& msg, Promise<R> p)
      : payload(std::forward<M>(msg)), reply(std::move(p)) {
    Init(&kInfo, t);
  }
  T payload;
  Promise<R> reply;

  static void Destroy(Envelope* e) { delete static_cast<RequestEnvelope*>(e); }
  static void Undeliverable(Envelope* e, UndeliverableReason reason) {
    static_cast<RequestEnvelope*>(e)->reply.Fail(
        reason == UndeliverableReason::kMailboxFull
            ? absl::ResourceExhaustedError("the target actor's mailbox is full")
            : absl::NotFoundError("the target actor has stopped"));
  }
  static constexpr MessageInfo kInfo{kTypeName<T>, &Destroy, &Undeliverable,
                                     &SlabAllocated<RequestEnvelope>};
};

// Sends request `msg` (tag `tag`) to `target`; `state` completes with DEADLINE_EXCEEDED if
// nothing answers within `timeout`.
template <typename T, typename R, typename M>
void SendRequest(ActorCell* target, uint32_t tag, M&& msg, absl::Duration timeout,
                 AskStateRef<R> state) {
  Scheduler& scheduler = target->scheduler();
  // The timer's callback holds a reference until the entry leaves the heap; completion cancels it.
  // absl::InfiniteDuration(): no deadline, no timer.
  AskState<R>* raw = state.get();
  if (timeout != absl::InfiniteDuration()) {
    raw->SetTimer(
        scheduler.AddTimer(scheduler.Now() + timeout, absl::ZeroDuration(),
                           [state, timeout, origin = ReserveOriginToSelf()] {
          ScopedReservedOrigin as_asked(origin);  // a recorded run: the asker's, as if sent now
          state->Cancel(
              absl::DeadlineExceededError("no reply within " + absl::FormatDuration(timeout)));
        }));
  }
  target->Enqueue(
      new RequestEnvelope<T, R>(tag, std::forward<M>(msg), Promise<R>(std::move(state))));
}

}  // namespace internal
}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_ASK_H_
