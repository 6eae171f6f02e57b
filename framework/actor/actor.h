// Actor<Derived, Protocol>: the base class of every actor.
//
//   struct Increment { int by; };
//   struct Get {};
//   using CounterProtocol = troupe::Protocol<Increment, troupe::Request<Get, int>>;
//
//   class Counter : public troupe::Actor<Counter, CounterProtocol> {
//    public:
//     void Handle(Increment m) { total_ += m.by; }
//     int Handle(Get) { return total_; }
//    private:
//     int total_ = 0;
//   };
//
// An actor owns its state and handles one message at a time, never concurrently with itself,
// on whichever worker runs it; no locks are needed inside. There is one Handle overload per
// protocol entry (a missing one is a compile error). Handlers take the message by value, by
// rvalue or by const reference, and may be:
//   - for a plain entry T:          void Handle(T)            or  Task<> Handle(T)
//   - for an entry Request<T, R>:   R Handle(T)               or  absl::StatusOr<R> Handle(T)
//                                   Task<R> / Task<absl::StatusOr<R>> Handle(T)  (coroutine)
//                                   void Handle(T, Promise<R>)                   (reply later)
// Dispatch is a switch on the entry index: no RTTI, no virtual call per message.
//
// A plain entry's handler may also return absl::Status: a non-OK status is a failure, like a
// throw.
//
// Lifecycle: the constructor runs in the spawner's thread; OnStart() runs as the actor's first
// turn; OnStop() runs when it stops (after which the object is destroyed). A handler that throws
// or returns an error fails its actor only: the message is dropped and counted; a supervised
// actor (ctx().SpawnSupervised) is restarted by its parent with its mailbox kept - a new object,
// OnStart again - and any other actor stops (see lifecycle.h for monitors and links).
//
// Thread safety: everything here is owner only (called from the actor's own handlers).
#ifndef FRAMEWORK_ACTOR_ACTOR_H_
#define FRAMEWORK_ACTOR_ACTOR_H_

#include <cstddef>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "framework/actor/actor_context.h"
#include "framework/actor/actor_ref.h"
#include "framework/actor/ask.h"
#include "framework/actor/task.h"
#include "framework/message/envelope.h"
#include "framework/message/protocol.h"

namespace troupe {

class ActorBase {
 public:
  virtual ~ActorBase() = default;

 protected:
  ActorBase() = default;
  ActorContext& ctx() { return ctx_; }
  const ActorContext& ctx() const { return ctx_; }

  virtual void OnStart() {}
  virtual void OnStop() {}

 private:
  friend class internal::ActorCell;
  friend class internal::SystemCore;
  // Handles a protocol message (tag < protocol size); the cell destroys the envelope after.
  virtual void Dispatch(Envelope* e) = 0;

  ActorContext ctx_;
};

template <typename Derived, typename P>
class Actor : public ActorBase {
 public:
  // Named so as not to shadow troupe::Protocol inside derived actor classes.
  using ActorProtocol = P;

 protected:
  ActorRef<P> self() const { return ActorRef<P>::FromCell(internal::CellRef(ctx().cell_)); }
  // Down{id, reason} when `target` stops (P must list Down); see ActorContext::Monitor.
  // (Named so as not to hide user message types called Monitor or Link.)
  template <typename Q>
  void MonitorActor(const ActorRef<Q>& target) {
    ctx().template Monitor<P>(target);
  }
  // Fail together with `target` (or receive Exit if P lists it); see ActorContext::Link.
  template <typename Q>
  void LinkActor(const ActorRef<Q>& target) {
    ctx().template Link<P>(target);
  }

 private:
  void Dispatch(Envelope* e) final { DispatchTo(e, std::make_index_sequence<P::kSize>()); }

  template <std::size_t... I>
  void DispatchTo(Envelope* e, std::index_sequence<I...>) {
    // Folds into a switch-like chain on the tag.
    (void)((e->tag() == I ? (HandleEntry<I>(e), true) : false) || ...);
  }

  template <std::size_t I>
  void HandleEntry(Envelope* e) {
    using Entry = typename P::template Entry<I>;
    using T = typename Entry::Message;
    Derived& self = static_cast<Derived&>(*this);
    if constexpr (!Entry::kIsRequest) {
      T& msg = static_cast<MessageEnvelope<T>*>(e)->payload;
      static_assert(
          requires { self.Handle(std::move(msg)); },
          "the actor has no Handle() for a message in its Protocol");
      using Ret = decltype(self.Handle(std::move(msg)));
      if constexpr (internal::IsTask<Ret>::value) {
        self.Handle(std::move(msg)).StartDetached(ctx().cell_);
      } else if constexpr (std::is_same_v<Ret, absl::Status>) {
        absl::Status status = self.Handle(std::move(msg));
        if (!status.ok()) ctx().cell_->FailWith(std::move(status));
      } else {
        self.Handle(std::move(msg));
      }
    } else {
      using R = typename Entry::Response;
      auto* re = static_cast<internal::RequestEnvelope<T, R>*>(e);
      T& msg = re->payload;
      if constexpr (requires { self.Handle(std::move(msg), std::move(re->reply)); }) {
        self.Handle(std::move(msg), std::move(re->reply));
      } else {
        static_assert(
            requires { self.Handle(std::move(msg)); },
            "the actor has no Handle() for a request in its Protocol");
        using Ret = decltype(self.Handle(std::move(msg)));
        if constexpr (internal::IsTask<Ret>::value) {
          ReplyWhenDone<R>(self.Handle(std::move(msg)), std::move(re->reply))
              .StartDetached(ctx().cell_);
        } else {
          re->reply.Complete(self.Handle(std::move(msg)));
        }
      }
    }
  }

  template <typename R, typename TaskT>
  static Task<> ReplyWhenDone(TaskT task, Promise<R> reply) {
    reply.Complete(co_await std::move(task));
  }
};

}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_ACTOR_H_
