#include "framework/scheduler/injection_queue.h"

namespace troupe {

void InjectionQueue::Push(Schedulable* item) {
  item->next_scheduled = nullptr;
  PushChain(item);
}

void InjectionQueue::PushChain(Schedulable* first) {
  size_t n = 1;
  Schedulable* last = first;
  while (last->next_scheduled != nullptr) {
    last = last->next_scheduled;
    ++n;
  }
  MutexLock lock(&mu_);
  if (tail_ != nullptr) {
    tail_->next_scheduled = first;
  } else {
    head_ = first;
  }
  tail_ = last;
  size_.fetch_add(n, std::memory_order_release);
}

Schedulable* InjectionQueue::Pop() {
  if (Empty()) return nullptr;
  MutexLock lock(&mu_);
  Schedulable* item = head_;
  if (item == nullptr) return nullptr;
  head_ = item->next_scheduled;
  if (head_ == nullptr) tail_ = nullptr;
  item->next_scheduled = nullptr;
  size_.fetch_sub(1, std::memory_order_release);
  return item;
}

Schedulable* InjectionQueue::TakeAll() {
  if (Empty()) return nullptr;
  MutexLock lock(&mu_);
  Schedulable* first = head_;
  head_ = tail_ = nullptr;
  size_.store(0, std::memory_order_release);
  return first;
}

}  // namespace troupe
