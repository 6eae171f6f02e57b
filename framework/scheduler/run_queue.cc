// Invariants (after Go's runtime run queue):
//  1. Slots [head_, tail_) hold queued items; only the owner writes tail_ and writes slots, and
//     only at tail_, only while tail_ - head_ < capacity_ (using a head_ it loaded).
//  2. Every consumer (owner Pop, thief StealInto) claims items by CAS on head_; a consumer that
//     read slots with a stale head_ fails its CAS and retries, so nothing is taken twice.
//  3. Slots are atomics so a thief's speculative read of a slot being rewritten is not a data
//     race; the failed CAS discards what it read.
//  4. The owner publishes an item by storing tail_ with release after writing the slot;
//     consumers load tail_ with acquire before reading slots.
#include "framework/scheduler/run_queue.h"

namespace troupe {

RunQueue::RunQueue(uint32_t capacity)
    : capacity_(capacity), mask_(capacity - 1), slots_(new std::atomic<Schedulable*>[capacity]) {
  for (uint32_t i = 0; i < capacity; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

Schedulable* RunQueue::Push(Schedulable* item) {
  for (;;) {
    const uint32_t head = head_.load(std::memory_order_acquire);
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head < capacity_) {
      slots_[tail & mask_].store(item, std::memory_order_relaxed);
      tail_.store(tail + 1, std::memory_order_release);
      return nullptr;
    }
    // Full: claim the older half, chain it with the new item, and hand the chain back.
    const uint32_t half = (tail - head) / 2;
    Schedulable* batch[512];
    Schedulable** out = half <= 512 ? batch : new Schedulable*[half];
    for (uint32_t i = 0; i < half; ++i) {
      out[i] = slots_[(head + i) & mask_].load(std::memory_order_relaxed);
    }
    uint32_t expected = head;
    if (!head_.compare_exchange_strong(expected, head + half, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
      if (out != batch) delete[] out;
      continue;  // a thief took some: there may be room now
    }
    for (uint32_t i = 0; i + 1 < half; ++i) out[i]->next_scheduled = out[i + 1];
    out[half - 1]->next_scheduled = item;
    item->next_scheduled = nullptr;
    Schedulable* chain = out[0];
    if (out != batch) delete[] out;
    return chain;
  }
}

Schedulable* RunQueue::Pop() {
  uint32_t head = head_.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (head == tail) return nullptr;
    Schedulable* item = slots_[head & mask_].load(std::memory_order_relaxed);
    if (head_.compare_exchange_weak(head, head + 1, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return item;
    }
  }
}

Schedulable* RunQueue::StealInto(RunQueue& dst) {
  const uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
  uint32_t head = head_.load(std::memory_order_acquire);
  uint32_t n;
  for (;;) {
    const uint32_t tail = tail_.load(std::memory_order_acquire);
    n = tail - head;
    n -= n / 2;  // half, rounded up
    if (n == 0) return nullptr;
    if (n > capacity_ / 2) {  // stale head/tail pair: re-read
      head = head_.load(std::memory_order_acquire);
      continue;
    }
    if (n > dst.capacity_) n = dst.capacity_;
    for (uint32_t i = 0; i < n; ++i) {
      Schedulable* item = slots_[(head + i) & mask_].load(std::memory_order_relaxed);
      dst.slots_[(dst_tail + i) & dst.mask_].store(item, std::memory_order_relaxed);
    }
    if (head_.compare_exchange_weak(head, head + n, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      break;
    }
  }
  // Keep the last stolen item to run now; publish the rest in dst.
  Schedulable* run_now = dst.slots_[(dst_tail + n - 1) & dst.mask_].load(std::memory_order_relaxed);
  if (n > 1) dst.tail_.store(dst_tail + n - 1, std::memory_order_release);
  return run_now;
}

uint32_t RunQueue::Size() const {
  const uint32_t head = head_.load(std::memory_order_acquire);
  const uint32_t tail = tail_.load(std::memory_order_acquire);
  return tail - head;
}

}  // namespace troupe
