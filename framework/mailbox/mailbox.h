// Mailbox: the lock-free multi-producer, single-consumer queue in front of one actor.
//
// Producers (any thread) Push(); the one consumer - the actor's current turn - Pop()s. Envelopes
// are linked intrusively: a push allocates nothing. The mailbox also carries the actor's
// scheduling state, so that "the mailbox went from idle to non-empty" and "the actor must be
// scheduled" are one and the same atomic event: Push() returns kScheduleNeeded to exactly one
// producer per idle period, and that producer hands the actor to the scheduler.
//
// States of the shared head word (see the invariants in mailbox.cc):
//   kIdle      empty, the actor is not scheduled
//   nullptr    empty of new messages, the actor is scheduled or running
//   envelope*  non-empty (a LIFO stack of new messages), the actor is scheduled or running
//   kClosed    the actor has stopped; pushes are refused
//
// System-priority envelopes (stop, child terminated) are taken before user envelopes that are
// already waiting; each priority keeps FIFO order per producer. The consumer takes the shared
// stack whole, walking it once without writing to it, and keeps user envelopes in an array it
// consumes oldest first, prefetching a few envelopes ahead: a long backlog (written earlier by
// other threads and out of cache) costs one cache miss per message, not two.
//
// Thread safety: Push() from any thread; everything else is owner only (the consumer, i.e. the
// actor's running turn, or whoever tears the actor down after its last turn).
#ifndef FRAMEWORK_MAILBOX_MAILBOX_H_
#define FRAMEWORK_MAILBOX_MAILBOX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "framework/base/cpu_relax.h"
#include "framework/message/envelope.h"

namespace troupe {

class Mailbox {
 public:
  enum class PushResult {
    kQueued,          // enqueued; the actor was already scheduled
    kScheduleNeeded,  // enqueued into an idle mailbox: the caller must schedule the actor
    kClosed,          // refused: the mailbox is closed; the caller still owns the envelope
  };

  // A new mailbox starts in the scheduled state (its actor is about to run its start hook).
  Mailbox() = default;
  ~Mailbox();  // destroys any envelope still queued
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. On kClosed ownership of `e` stays with the caller.
  PushResult Push(Envelope* e);

  // Owner only. The next envelope (system before user), or nullptr if none is queued.
  Envelope* Pop();

  // Owner only. The next system envelope, or nullptr (user envelopes stay queued: a suspended
  // actor waits for its supervisor, whose word arrives as a system envelope).
  Envelope* PopSystem();

  // Owner only. Moves newly pushed envelopes into the consumer's cache (cheap when none).
  void Fetch();

  // Owner only, after Pop() (or PopSystem()) returned nullptr: marks the mailbox idle. Returns
  // false (and stays scheduled) if a producer pushed in the meantime; the owner must then keep
  // popping. After PopSystem() user envelopes may stay cached: the next push schedules the actor.
  bool TryMarkIdle();

  // Owner only: refuses further pushes and returns every queued envelope,
  // oldest first per priority (system envelopes first), linked through Envelope::next.
  Envelope* Close();

  bool closed() const { return head_.load(std::memory_order_acquire) == ClosedMarker(); }

 private:
  static Envelope* IdleMarker() { return reinterpret_cast<Envelope*>(uintptr_t{1}); }
  static Envelope* ClosedMarker() { return reinterpret_cast<Envelope*>(uintptr_t{2}); }
  static bool IsEnvelope(Envelope* e) { return reinterpret_cast<uintptr_t>(e) > 2; }

  void TakeStack(Envelope* stack);
  void ReleaseDrainedArrays();

  // Shared with producers. The padding keeps it off the consumer's cache line (padding rather
  // than alignas, so that cells need no over-aligned allocation).
  std::atomic<Envelope*> head_{nullptr};
  char pad_[kCacheLineSize - sizeof(std::atomic<Envelope*>)];

  // Consumer-owned caches: system envelopes as a FIFO list (rare), user envelopes as an array
  // consumed from user_pos_ (oldest first).
  Envelope* system_head_ = nullptr;
  Envelope* system_tail_ = nullptr;
  std::vector<Envelope*> user_;
  size_t user_pos_ = 0;
  std::vector<Envelope*> scratch_;  // newest-first user envelopes of the stack being taken
};

}  // namespace troupe

#endif  // FRAMEWORK_MAILBOX_MAILBOX_H_
