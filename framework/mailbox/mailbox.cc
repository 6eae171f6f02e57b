// Invariants of the mailbox head word:
//  1. head_ == kIdle only while no turn is running and the system cache is empty (the user cache
//     too, unless the actor is suspended and deliberately leaves user envelopes waiting); the
//     transition to kIdle happens only in TryMarkIdle(), by CAS from nullptr.
//  2. A producer that replaces kIdle by its envelope (CAS) is the only one that observed the
//     idle state, so it alone gets kScheduleNeeded: the actor is scheduled exactly once per
//     idle period.
//  3. kClosed is terminal: once set, no push succeeds and nothing else is ever stored.
//  4. Envelopes on the shared stack are newest-first; TakeStack reverses them so each
//     priority's cache is oldest-first, keeping per-producer FIFO order. A new batch is newer
//     than everything already cached, so it is appended behind it.
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
  } while (
      !head_.compare_exchange_weak(head, e, std::memory_order_acq_rel, std::memory_order_relaxed));
  return head == IdleMarker() ? PushResult::kScheduleNeeded : PushResult::kQueued;
}

void Mailbox::TakeStack(Envelope* stack) {
  // One read-only walk (newest first): user envelopes are recorded in scratch_, the rare system
  // envelopes are relinked into an oldest-first chain.
  Envelope* sys = nullptr;
  Envelope* sys_last = nullptr;
  while (stack != nullptr) {
    Envelope* next = stack->next;
    if (stack->priority() == Priority::kSystem) {
      if (sys == nullptr) sys_last = stack;
      stack->next = sys;
      sys = stack;
    } else {
      scratch_.push_back(stack);
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
  if (!scratch_.empty()) {
    if (user_pos_ == user_.size()) {
      user_.clear();
      user_pos_ = 0;
    }
    user_.insert(user_.end(), scratch_.rbegin(), scratch_.rend());
    scratch_.clear();
  }
}

void Mailbox::Fetch() {
  if (!IsEnvelope(head_.load(std::memory_order_relaxed))) return;
  // Only the owner closes or idles the mailbox, so a head that held envelopes still does.
  TakeStack(head_.exchange(nullptr, std::memory_order_acquire));
}

Envelope* Mailbox::Pop() {
  if (system_head_ == nullptr && user_pos_ == user_.size()) Fetch();
  Envelope* e = system_head_;
  if (e != nullptr) {
    system_head_ = e->next;
    if (system_head_ == nullptr) system_tail_ = nullptr;
    e->next = nullptr;
    return e;
  }
  if (user_pos_ == user_.size()) {
    ReleaseDrainedArrays();
    return nullptr;
  }
  e = user_[user_pos_++];
  // The envelope kPrefetchDistance ahead is likely out of cache: start loading it now.
  constexpr size_t kPrefetchDistance = 4;
  if (user_pos_ + kPrefetchDistance < user_.size()) {
    __builtin_prefetch(user_[user_pos_ + kPrefetchDistance]);
  }
  e->next = nullptr;
  return e;
}

Envelope* Mailbox::PopSystem() {
  if (system_head_ == nullptr) Fetch();
  Envelope* e = system_head_;
  if (e == nullptr) return nullptr;
  system_head_ = e->next;
  if (system_head_ == nullptr) system_tail_ = nullptr;
  e->next = nullptr;
  return e;
}

void Mailbox::ReleaseDrainedArrays() {
  // After a large backlog, give the memory back rather than keeping it per (idle) actor.
  constexpr size_t kKeepCapacity = 256;
  user_.clear();
  user_pos_ = 0;
  if (user_.capacity() > kKeepCapacity) {
    std::vector<Envelope*>().swap(user_);
    std::vector<Envelope*>().swap(scratch_);
  }
}

bool Mailbox::TryMarkIdle() {
  Envelope* expected = nullptr;
  return head_.compare_exchange_strong(expected, IdleMarker(), std::memory_order_acq_rel,
                                       std::memory_order_relaxed);
}

Envelope* Mailbox::Close() {
  Envelope* stack = head_.exchange(ClosedMarker(), std::memory_order_acq_rel);
  if (IsEnvelope(stack)) TakeStack(stack);
  // One chain: system envelopes first, then user envelopes, each oldest first.
  Envelope* all = system_head_;
  Envelope** link = system_tail_ != nullptr ? &system_tail_->next : &all;
  for (size_t i = user_pos_; i < user_.size(); ++i) {
    *link = user_[i];
    link = &user_[i]->next;
  }
  *link = nullptr;
  system_head_ = system_tail_ = nullptr;
  user_pos_ = 0;
  std::vector<Envelope*>().swap(user_);
  std::vector<Envelope*>().swap(scratch_);
  return all;
}

}  // namespace troupe
