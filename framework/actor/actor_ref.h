// ActorRef<P>: a typed, counted reference to an actor whose protocol is P.
//
//   ActorRef<CounterProtocol> counter = ...;
//   counter.Tell(Increment{5});      // compiles: Increment is in CounterProtocol
//   counter.Tell(std::string("x"));  // compile error: not in the protocol
//
// Thread safety: cheap to copy (one atomic increment) and safe to use from any thread: an
// actor, a foreign thread, a timer or I/O callback. Messages from one sender to one actor arrive in
// the order sent. A message sent to a stopped actor is recorded in the system's dead letters (and a
// request among them fails at once with NOT_FOUND); it never crashes and never vanishes
// unaccounted. An empty (default-constructed) reference counts what is sent through it as a
// process-wide dead letter (UnaddressedCount()).
#ifndef FRAMEWORK_ACTOR_ACTOR_REF_H_
#define FRAMEWORK_ACTOR_ACTOR_REF_H_

#include <cstdint>
#include <type_traits>
#include <utility>

#include "framework/actor/actor_cell.h"
#include "framework/message/envelope.h"
#include "framework/message/protocol.h"

namespace troupe {

class ActorContext;
class ActorSystem;

namespace internal {
// Counts a message sent through an empty reference.
void RecordUnaddressed(std::string_view type_name);
}  // namespace internal

// Messages sent through empty references since the process started.
uint64_t UnaddressedCount();

template <typename P>
class ActorRef {
 public:
  using Protocol = P;

  ActorRef() = default;

  // Sends `msg` (an entry of P that is not a Request<>). Never blocks. Returns false if the
  // message was refused at once - the actor has stopped, or its bounded mailbox is full (see
  // lifecycle.h) - and counted as a dead letter; true once it is queued.
  template <typename M>
  bool Tell(M&& msg) const {
    using T = std::decay_t<M>;
    static_assert(P::template kAccepts<T>, "this message type is not in the actor's Protocol");
    static_assert(!P::template EntryOf<T>::kIsRequest,
                  "this message is a Request<> in the Protocol: send it with Ask()");
    if (!cell_) {
      internal::RecordUnaddressed(kTypeName<T>);
      return false;
    }
    return cell_->Enqueue(new MessageEnvelope<T>(P::template kTagOf<T>, std::forward<M>(msg)));
  }

  // Asks the actor to stop. Queued user messages that it has not yet processed become dead
  // letters. Idempotent.
  void Stop() const {
    if (cell_) cell_->RequestStop();
  }

  // Unique within the process (never reused). 0 for an empty reference.
  uint64_t id() const { return cell_ ? cell_->id() : 0; }
  // True once the actor has stopped (false for an empty reference).
  bool stopped() const { return cell_ && cell_->stopped(); }
  explicit operator bool() const { return static_cast<bool>(cell_); }

  friend bool operator==(const ActorRef& a, const ActorRef& b) {
    return a.cell_.get() == b.cell_.get();
  }
  template <typename H>
  friend H AbslHashValue(H h, const ActorRef& r) {
    return H::combine(std::move(h), r.cell_.get());
  }

  // Runtime use: wraps a cell known to run an actor with protocol P.
  static ActorRef FromCell(internal::CellRef cell) {
    ActorRef r;
    r.cell_ = std::move(cell);
    return r;
  }
  internal::ActorCell* cell() const { return cell_.get(); }

 private:
  internal::CellRef cell_;
};

}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_ACTOR_REF_H_
