// Backpressure: senders that wait for room in a bounded (kBackpressure) mailbox. A waiter is
// admitted by the consumer as it takes messages out, oldest waiter first; one that runs out of
// time is told so and its message is never delivered.
#include <algorithm>
#include <utility>
#include <vector>

#include "framework/actor/actor_cell.h"
#include "framework/actor/system_core.h"
#include "framework/message/envelope_trace.h"
#include "framework/trace/trace_context.h"

namespace troupe::internal {

void ActorCell::EnqueueWhenRoom(Envelope* e, absl::Duration timeout,
                                absl::AnyInvocable<void(absl::Status)> done) {
  if (!backpressure() || !Counted(e)) {
    const bool queued = Enqueue(e);
    done(queued ? absl::OkStatus()
                : mailbox_.closed()
                    ? absl::NotFoundError("the target actor has stopped")
                    : absl::ResourceExhaustedError("the target actor's mailbox is full"));
    return;
  }
  // The sender's trace (and its origin, in a recorded run) go with the message, also when it
  // is queued later by the consumer.
  if (const TraceContext* trace = CurrentTrace(); trace != nullptr) AttachTrace(e, *trace);
  NoteSender(e, id_);
  auto waiter = std::make_shared<RoomWaiter>(RoomWaiter{e, std::move(done)});
  enum { kRoomNow, kStopped, kWaiting } outcome;
  {
    MutexLock lock(&room().mu);
    outcome = kWaiting;
    if (mailbox_.closed()) {
      outcome = kStopped;
    } else if (room().queue.empty()) {  // nobody waits before us: try for room now
      const int64_t queued = queued_.fetch_add(1, std::memory_order_seq_cst) + 1;
      if (queued <= static_cast<int64_t>(limit_.capacity)) {
        outcome = kRoomNow;
      } else {
        queued_.fetch_sub(1, std::memory_order_seq_cst);
      }
    }
    if (outcome == kWaiting) {
      room().queue.push_back(waiter);
      room().size.fetch_add(1, std::memory_order_seq_cst);
    }
  }
  if (outcome == kRoomNow) {
    switch (Push(e)) {
      case Mailbox::PushResult::kQueued:
        break;
      case Mailbox::PushResult::kScheduleNeeded:
        scheduler_->Schedule(this);
        break;
      case Mailbox::PushResult::kClosed:
        queued_.fetch_sub(1, std::memory_order_seq_cst);
        outcome = kStopped;
        break;
    }
    if (outcome == kRoomNow) {
      waiter->done(absl::OkStatus());
      return;
    }
  }
  if (outcome == kStopped) {
    DestroyEnvelope(e);
    waiter->done(absl::NotFoundError("the target actor has stopped"));
    return;
  }
  // The consumer may have made room between our check and our registration.
  if (queued_.load(std::memory_order_seq_cst) < static_cast<int64_t>(limit_.capacity)) {
    AdmitWaiters();
  }
  if (timeout != absl::InfiniteDuration()) {
    scheduler_->AddTimer(scheduler_->Now() + timeout, absl::ZeroDuration(),
                         [cell = CellRef(this), weak = std::weak_ptr<RoomWaiter>(waiter)] {
                           if (auto w = weak.lock()) cell->ExpireWaiter(w);
                         });
  }
}

void ActorCell::ExpireWaiter(const std::shared_ptr<RoomWaiter>& waiter) {
  {
    MutexLock lock(&room().mu);
    auto it = std::find(room().queue.begin(), room().queue.end(), waiter);
    if (it == room().queue.end()) return;  // admitted (or failed) already
    room().queue.erase(it);
    room().size.fetch_sub(1, std::memory_order_seq_cst);
  }
  DestroyEnvelope(waiter->envelope);
  waiter->done(absl::DeadlineExceededError("no room in the target actor's mailbox in time"));
}

// Admits the waiters at the front that fit now, oldest first. Called by the consumer after it
// took a message out, and by a sender right after it started waiting: with seq_cst on queued_
// and the waiter count, one of the two always sees the other, so no waiter is forgotten while
// there is room.
void ActorCell::AdmitWaiters() {
  std::vector<std::shared_ptr<RoomWaiter>> admitted, refused;
  bool schedule = false;
  {
    MutexLock lock(&room().mu);
    while (!room().queue.empty()) {
      const int64_t queued = queued_.fetch_add(1, std::memory_order_seq_cst) + 1;
      if (queued > static_cast<int64_t>(limit_.capacity)) {
        queued_.fetch_sub(1, std::memory_order_seq_cst);
        break;
      }
      std::shared_ptr<RoomWaiter> w = std::move(room().queue.front());
      room().queue.pop_front();
      room().size.fetch_sub(1, std::memory_order_seq_cst);
      // Pushed under the lock, so admitted messages keep their waiting order.
      switch (Push(w->envelope)) {
        case Mailbox::PushResult::kQueued:
          admitted.push_back(std::move(w));
          break;
        case Mailbox::PushResult::kScheduleNeeded:
          schedule = true;
          admitted.push_back(std::move(w));
          break;
        case Mailbox::PushResult::kClosed:
          queued_.fetch_sub(1, std::memory_order_seq_cst);
          refused.push_back(std::move(w));
          break;
      }
    }
  }
  if (schedule) scheduler_->Schedule(this);
  for (auto& w : admitted) w->done(absl::OkStatus());
  for (auto& w : refused) {
    DestroyEnvelope(w->envelope);
    w->done(absl::NotFoundError("the target actor has stopped"));
  }
}

// Owner only, once the mailbox is closed: the waiters are told, their messages destroyed.
void ActorCell::FailWaiters() {
  std::deque<std::shared_ptr<RoomWaiter>> waiting;
  {
    MutexLock lock(&room().mu);
    waiting.swap(room().queue);
    room().size.store(0, std::memory_order_seq_cst);
  }
  for (auto& w : waiting) {
    DestroyEnvelope(w->envelope);
    w->done(absl::NotFoundError("the target actor has stopped"));
  }
}

}  // namespace troupe::internal
