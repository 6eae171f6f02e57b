// Invariants of the mailbox head word:
//  1. head_ == kIdle only while both consumer caches are empty and no turn is running; the
//     transition to kIdle happens only in TryMarkIdle(), by CAS from nullptr.
//  2. A producer that replaces kIdle by its envelope (CAS) is the only one that observed the
//     idle state, so it alone gets kScheduleNeeded: the actor is scheduled exactly once per
//     idle period.
//  3. kClosed is terminal: once set, no push succeeds and nothing else is ever stored.
//  4. Envelopes on the shared stack are newest-first; TakeStack reverses them so each
//     priority's cache is oldest-first, keeping per-producer FIFO order.
//  5. Memory order: a push is a release CAS publishing the envelope's contents; the consumer
//     takes the stack with an acquire exchange. TryMarkIdle's CAS is acq_rel so that the next
//     turn (scheduled by a producer that read kIdle) sees everything the last turn wrote.
#include "framework/mailbox/mailbox.h"

namespace troupe {

Mailbox::~Mailbox() {
  Envelope* e = Close();
  while (e != nullptr) {
    Envelope* next = e->next;
    DestroyEnvelope(e);
    e = next;
  }
}

Mailbox::PushResult Mailbox::Push(Envelope* e) {
  Envelope* head = head_.load(std::memory_order_relaxed);
  do {
    if (head == ClosedMarker()) return PushResult::kClosed;
    e->next = (head == IdleMarker()) ? nullptr : head;
  } while (!head_.compare_exchange_weak(head, e, std::memory_order_acq_rel,
                                        std::memory_order_relaxed));
  return head == IdleMarker() ? PushResult::kScheduleNeeded : PushResult::kQueued;
}

void Mailbox::TakeStack(Envelope* stack) {
  // Reverse the newest-first stack into two oldest-first chains, then append them.
  Envelope* sys = nullptr;
  Envelope* sys_last = nullptr;
  Envelope* user = nullptr;
  Envelope* user_last = nullptr;
  while (stack != nullptr) {
    Envelope* next = stack->next;
    if (stack->priority == Priority::kSystem) {
      if (sys == nullptr) sys_last = stack;
      stack->next = sys;
      sys = stack;
    } else {
      if (user == nullptr) user_last = stack;
      stack->next = user;
      user = stack;
    }
    stack = next;
  }
  if (sys != nullptr) {
    if (system_tail_ != nullptr) {
      system_tail_->next = sys;
    } else {
      system_head_ = sys;
    }
    system_tail_ = sys_last;
  }
  if (user != nullptr) {
    if (user_tail_ != nullptr) {
      user_tail_->next = user;
    } else {
      user_head_ = user;
    }
    user_tail_ = user_last;
  }
}

void Mailbox::Fetch() {
  if (!IsEnvelope(head_.load(std::memory_order_relaxed))) return;
  // Only the owner closes or idles the mailbox, so a head that held envelopes still does.
  TakeStack(head_.exchange(nullptr, std::memory_order_acquire));
}

Envelope* Mailbox::Pop() {
  if (system_head_ == nullptr && user_head_ == nullptr) Fetch();
  Envelope* e = system_head_;
  if (e != nullptr) {
    system_head_ = e->next;
    if (system_head_ == nullptr) system_tail_ = nullptr;
  } else {
    e = user_head_;
    if (e == nullptr) return nullptr;
    user_head_ = e->next;
    if (user_head_ == nullptr) user_tail_ = nullptr;
  }
  e->next = nullptr;
  return e;
}

bool Mailbox::TryMarkIdle() {
  Envelope* expected = nullptr;
  return head_.compare_exchange_strong(expected, IdleMarker(), std::memory_order_acq_rel,
                                       std::memory_order_relaxed);
}

Envelope* Mailbox::Close() {
  Envelope* stack = head_.exchange(ClosedMarker(), std::memory_order_acq_rel);
  if (IsEnvelope(stack)) TakeStack(stack);
  // System envelopes first, then user envelopes.
  Envelope* all = system_head_;
  if (all != nullptr) {
    system_tail_->next = user_head_;
  } else {
    all = user_head_;
  }
  system_head_ = system_tail_ = user_head_ = user_tail_ = nullptr;
  return all;
}

}  // namespace troupe
