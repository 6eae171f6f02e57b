// ActorContext: what an actor can do from inside its handlers - spawn children, stop, ask
// other actors, set timers, register names.
//
// Thread safety: owner only. Call these only from the actor's own handlers (including
// OnStart/OnStop and coroutine handlers); never store the context and use it elsewhere.
#ifndef FRAMEWORK_ACTOR_ACTOR_CONTEXT_H_
#define FRAMEWORK_ACTOR_ACTOR_CONTEXT_H_

#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "framework/actor/actor_cell.h"
#include "framework/actor/actor_ref.h"
#include "framework/actor/ask.h"
#include "framework/actor/delayed_send.h"
#include "framework/actor/system_core.h"
#include "framework/actor/task.h"
#include "framework/base/type_name.h"

namespace troupe {

class ActorSystem;
class ActorBase;

namespace internal {

// Spawns an actor of type A (built from `args` inside the cell's own allocation) under
// `parent` (null: top level). Shared by ActorContext::Spawn and ActorSystem::Spawn.
template <typename A>
constexpr MailboxLimit MailboxLimitOf() {
  if constexpr (requires { A::kMailboxLimit; }) {
    return A::kMailboxLimit;
  } else {
    return MailboxLimit{};
  }
}

// True if the actor type opts in to per-type metrics (type_metrics.h).
template <typename A>
constexpr bool TypeMetricsOf() {
  if constexpr (requires { A::kTypeMetrics; }) {
    return A::kTypeMetrics;
  } else {
    return false;
  }
}

template <typename A, typename... Args>
absl::StatusOr<ActorRef<typename A::ActorProtocol>> SpawnActor(SystemCore& core, ActorCell* parent,
                                                               Args&&... args) {
  static_assert(alignof(A) <= ActorCell::kMaxBehaviorAlign,
                "actor classes may not be over-aligned (alignas beyond max_align_t)");
  auto construct = [&](void* storage) -> ActorBase* {
    return new (storage) A(std::forward<Args>(args)...);
  };
  auto cell = core.Spawn(
      {sizeof(A), alignof(A), construct, nullptr, MailboxLimitOf<A>(), TypeMetricsOf<A>()},
      &kTypeName<A>, parent);
  if (!cell.ok()) return cell.status();
  return ActorRef<typename A::ActorProtocol>::FromCell(*std::move(cell));
}

// A supervised spawn: the arguments are copied into a maker that rebuilds the actor on restart.
template <typename A, typename... Args>
absl::StatusOr<ActorRef<typename A::ActorProtocol>> SpawnRestartableActor(SystemCore& core,
                                                                          ActorCell* parent,
                                                                          Args&&... args) {
  static_assert(alignof(A) <= ActorCell::kMaxBehaviorAlign,
                "actor classes may not be over-aligned (alignas beyond max_align_t)");
  static_assert((std::is_copy_constructible_v<std::decay_t<Args>> && ...),
                "SpawnSupervised: the constructor arguments are kept for restarts, so they must "
                "be copyable");
  auto maker = std::make_unique<BehaviorMaker>(
      [... kept = std::decay_t<Args>(std::forward<Args>(args))](void* storage) -> ActorBase* {
        return new (storage) A(kept...);
      });
  BehaviorMaker* first = maker.get();
  auto construct = [first](void* storage) { return (*first)(storage); };
  auto cell = core.Spawn({sizeof(A), alignof(A), construct, std::move(maker),
                          MailboxLimitOf<A>(), TypeMetricsOf<A>()},
                         &kTypeName<A>, parent);
  if (!cell.ok()) return cell.status();
  return ActorRef<typename A::ActorProtocol>::FromCell(*std::move(cell));
}

}  // namespace internal

class ActorContext {
 public:
  // Spawns a child actor of type A, constructed from `args`. The child stops when this actor
  // stops. RESOURCE_EXHAUSTED: the system's actor limit is reached.
  template <typename A, typename... Args>
  absl::StatusOr<ActorRef<typename A::ActorProtocol>> Spawn(Args&&... args) {
    return internal::SpawnActor<A>(cell_->system(), cell_, std::forward<Args>(args)...);
  }

  // Stops this actor after the current message: OnStop runs, children are stopped, queued
  // messages become dead letters.
  void Stop() { cell_->StopSelf(); }

  // Spawns a supervised child: when it fails, this actor (its supervisor) restarts it in place
  // - same ActorRef, same mailbox, a new object built from copies of `args` - according to
  // SetSupervisorOptions (default: one-for-one, at most 1 restart in 5 s, then escalate).
  template <typename A, typename... Args>
  absl::StatusOr<ActorRef<typename A::ActorProtocol>> SpawnSupervised(Args&&... args) {
    return internal::SpawnRestartableActor<A>(cell_->system(), cell_,
                                              std::forward<Args>(args)...);
  }
  void SetSupervisorOptions(const SupervisorOptions& options) {
    cell_->SetSupervisorOptions(options);
  }

  // Tells this actor Down{id, reason} (its Protocol must list Down) when `target` stops; at
  // once if it has stopped already. Each call adds one notification.
  // (Actor<>::MonitorActor and Actor<>::LinkActor call these with the actor's own protocol.)
  template <typename SelfProtocol, typename P>
  void Monitor(const ActorRef<P>& target) {
    static_assert(SelfProtocol::template kAccepts<Down>,
                  "Monitor(): this actor's Protocol must list Down");
    if (!target) return;
    target.cell()->AddWatcher(
        {internal::CellRef(cell_), SelfProtocol::template kTagOf<Down>, false});
  }
  // Links this actor and `target`: when either fails, the other fails too, or - if its Protocol
  // lists Exit - receives Exit{id, reason}. Normal stops do not propagate.
  template <typename SelfProtocol, typename P>
  void Link(const ActorRef<P>& target) {
    if (!target) return;
    target.cell()->AddWatcher({internal::CellRef(cell_), ExitTag<SelfProtocol>(), true});
    cell_->AddWatcher({internal::CellRef(target.cell()), ExitTag<P>(), true});
  }

  // Sends request `msg` to `to` and runs `on_reply(absl::StatusOr<R>)` on this actor when the
  // reply, an error, or DEADLINE_EXCEEDED after `timeout` arrives. Other messages keep being
  // processed meanwhile.
  // The handle cancels the request (on_reply then gets the cancellation status).
  template <typename P, typename M, typename F>
  AskHandle Ask(const ActorRef<P>& to, M&& msg, absl::Duration timeout, F on_reply) {
    using T = std::decay_t<M>;
    using R = typename RequestEntry<P, T>::Response;
    internal::AskStateRef<R> state(
        new internal::ActorAskState<R, F>(internal::CellRef(cell_), std::move(on_reply)),
        /*adopt=*/true);
    AskHandle handle(state.get());
    SendRequest<P, T>(to, std::forward<M>(msg), timeout, std::move(state));
    return handle;
  }

  // Runs `on_cancel(absl::Status)` on this actor, as a message, if the asker gives up on the
  // request `reply` answers (its deadline passes: DEADLINE_EXCEEDED; it cancels: CANCELLED,
  // e.g. a gRPC client went away) before this actor answers it; at once if it already has.
  // Never runs once the request is answered. Use it to stop work nobody waits for.
  template <typename R, typename F>
  void OnCancel(const Promise<R>& reply, F on_cancel) {
    if (!reply.state_) return;
    reply.state_->SetCancelHook(internal::CellRef(cell_),
                                absl::AnyInvocable<void(absl::Status)>(std::move(on_cancel)));
  }

  // The coroutine form: `absl::StatusOr<R> r = co_await ctx().Ask(to, msg, timeout);`
  // A message that is copyable but not trivially copyable (e.g. holds a std::string) must be a
  // named variable here, not a temporary (see the g++ 12 caveat in task.h).
  template <typename P, typename M>
  auto Ask(const ActorRef<P>& to, M&& msg, absl::Duration timeout) {
    using T = std::decay_t<M>;
    using R = typename RequestEntry<P, T>::Response;
    static_assert(internal::kArgumentSafeAcrossCoAwait<M>,
                  "co_await Ask(): pass this message as a named variable, not a temporary "
                  "(g++ 12 miscompiles such temporaries inside co_await); it is copied");
    auto send = [this, to, msg = T(std::forward<M>(msg)), timeout](auto resume) mutable {
      (void)Ask(to, std::move(msg), timeout, std::move(resume));
    };
    return internal::HeapAwaiter<absl::StatusOr<R>, decltype(send)>(std::move(send));
  }

  // Sends plain message `msg` to `to`, waiting for room if `to` has a bounded mailbox with
  // OverflowPolicy::kBackpressure (in order behind earlier waiters, at most `timeout`); this
  // actor keeps processing meanwhile. `on_done(absl::Status)` runs on this actor: OK once
  // queued, DEADLINE_EXCEEDED (never delivered), NOT_FOUND (stopped), RESOURCE_EXHAUSTED
  // (full under another policy). A producer that waits for each send cannot outrun its consumer.
  template <typename P, typename M, typename F>
  void TellWhenRoom(const ActorRef<P>& to, M&& msg, absl::Duration timeout, F on_done) {
    using T = std::decay_t<M>;
    static_assert(P::template kAccepts<T>, "this message type is not in the actor's Protocol");
    static_assert(!P::template EntryOf<T>::kIsRequest,
                  "TellWhenRoom sends plain messages; use Ask() for a Request<>");
    auto done = [self = internal::CellRef(cell_), generation = cell_->generation(),
                 on_done = std::move(on_done), trace = SavedTrace()](absl::Status status) mutable {
      ScopedTrace traced(trace.get());  // on_done goes on in this handler's trace
      self->EnqueueClosure(
          [on_done = std::move(on_done), status = std::move(status)]() mutable {
            on_done(std::move(status));
          },
          generation);
    };
    if (!to) {
      done(absl::NotFoundError("TellWhenRoom through an empty ActorRef"));
      return;
    }
    to.cell()->EnqueueWhenRoom(new MessageEnvelope<T>(P::template kTagOf<T>, std::forward<M>(msg)),
                               timeout, std::move(done));
  }

  // Delivers `msg` to `to` after `delay`. Timers set through the context are cancelled when
  // this actor stops.
  template <typename P, typename M>
  TimerHandle SendAfter(absl::Duration delay, const ActorRef<P>& to, M&& msg) {
    return Track(internal::SendAfter(scheduler(), delay, to, std::forward<M>(msg)));
  }
  // Delivers a copy of `msg` to `to` every `period`, until cancelled or this actor stops.
  template <typename P, typename M>
  TimerHandle SendPeriodically(absl::Duration period, const ActorRef<P>& to, M&& msg) {
    return Track(internal::SendPeriodically(scheduler(), period, to, std::forward<M>(msg)));
  }
  // Runs `fn` on this actor (as a message) after `delay`.
  TimerHandle RunAfter(absl::Duration delay, internal::Closure fn);
  // Runs `fn` on this actor as a message, after the messages already queued.
  void Post(internal::Closure fn) { cell_->EnqueueClosure(std::move(fn), cell_->generation()); }
  // A copyable callable for any thread (a library's completion callback, say): each call runs
  // `fn(args...)` on this actor as a message, after the messages already queued; a call after
  // this actor stopped (or restarted) runs nothing. The arguments are copied into the message.
  template <typename F>
  auto Callback(F fn) {
    return [cell = internal::CellRef(cell_), generation = cell_->generation(),
            fn = std::make_shared<F>(std::move(fn))](auto... args) {
      cell->EnqueueClosure(
          [fn, ... args = std::move(args)]() mutable { (*fn)(std::move(args)...); }, generation);
    };
  }

  // Registers this actor under `name` (see ActorSystem::Register for errors). The name is
  // released when the actor stops.
  template <typename P>
  absl::Status Register(std::string name, const ActorRef<P>& ref) {
    return cell_->system().Register(std::move(name), internal::CellRef(ref.cell()), P::Id());
  }
  template <typename P>
  absl::StatusOr<ActorRef<P>> Lookup(absl::string_view name) const {
    auto cell = cell_->system().Lookup(name, P::Id());
    if (!cell.ok()) return cell.status();
    return ActorRef<P>::FromCell(*std::move(cell));
  }

  absl::Time Now() const { return scheduler().Now(); }
  // Runtime use (extensions such as the executor): the running actor's cell.
  internal::ActorCell* cell_for_runtime() const { return cell_; }
  uint64_t id() const { return cell_->id(); }
  ActorSystem& system() const { return cell_->system().facade(); }

 private:
  friend class ActorBase;
  template <typename, typename>
  friend class Actor;
  friend class internal::ActorCell;
  friend class internal::SystemCore;

  template <typename P>
  static constexpr uint32_t ExitTag() {
    if constexpr (P::template kAccepts<Exit>) {
      return P::template kTagOf<Exit>;
    } else {
      return internal::kNoTag;
    }
  }

  template <typename P, typename T>
  struct RequestEntry {
    static_assert(P::template kAccepts<T>, "this message type is not in the actor's Protocol");
    static_assert(P::template EntryOf<T>::kIsRequest,
                  "Ask() needs a Request<T, R> entry in the Protocol; use Tell() for T");
    using Response = typename P::template EntryOf<T>::Response;
  };

  template <typename P, typename T, typename M, typename R>
  static void SendRequest(const ActorRef<P>& to, M&& msg, absl::Duration timeout,
                          internal::AskStateRef<R> state) {
    if (!to) {
      internal::RecordUnaddressed(kTypeName<T>);
      state->TryComplete(absl::NotFoundError("Ask through an empty ActorRef"));
      return;
    }
    internal::SendRequest<T, R>(to.cell(), P::template kTagOf<T>, std::forward<M>(msg), timeout,
                                std::move(state));
  }

  Scheduler& scheduler() const { return cell_->scheduler(); }
  TimerHandle Track(TimerHandle h) {
    cell_->TrackTimer(h);
    return h;
  }

  internal::ActorCell* cell_ = nullptr;
};

}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_ACTOR_CONTEXT_H_
