// Invariants:
//  1. A slab is 64 KiB, aligned to 64 KiB; its header is at its start, so any block's slab is
//     found by masking the block's address.
//  2. While a thread allocates from a slab, the slab's live count carries a large bias
//     (kActiveBias) so frees can never bring it to zero. Retiring the slab subtracts
//     kActiveBias minus the number of blocks handed out; from then on the free (or the retire)
//     that brings the count to zero owns the slab and recycles it. Exactly one does.
//  3. The live count is the only field other threads touch.
#include "framework/message/envelope_slab.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace troupe::internal {
namespace {

constexpr int64_t kActiveBias = int64_t{1} << 40;
constexpr size_t kMaxFreeSlabs = 64;  // 4 MiB kept for reuse

struct alignas(64) SlabHeader {
  std::atomic<int64_t> live;
  std::atomic<void*> side;  // SlabSideSlot's mirror, or null
};
constexpr size_t kHeaderSize = sizeof(SlabHeader);

SlabHeader* SlabOf(void* p) {
  return reinterpret_cast<SlabHeader*>(reinterpret_cast<uintptr_t>(p) & ~(kSlabSize - 1));
}

std::mutex g_free_mu;
std::vector<void*>* g_free_slabs = new std::vector<void*>();  // never destroyed

void Recycle(SlabHeader* slab) {
  std::free(slab->side.exchange(nullptr, std::memory_order_acquire));
  {
    std::lock_guard<std::mutex> lock(g_free_mu);
    if (g_free_slabs->size() < kMaxFreeSlabs) {
      g_free_slabs->push_back(slab);
      return;
    }
  }
  std::free(slab);
}

SlabHeader* NewSlab() {
  void* mem = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_free_mu);
    if (!g_free_slabs->empty()) {
      mem = g_free_slabs->back();
      g_free_slabs->pop_back();
    }
  }
  if (mem == nullptr) {
    mem = std::aligned_alloc(kSlabSize, kSlabSize);
    if (mem == nullptr) throw std::bad_alloc();
  }
  auto* slab = new (mem) SlabHeader;
  slab->live.store(kActiveBias, std::memory_order_relaxed);
  slab->side.store(nullptr, std::memory_order_relaxed);
  return slab;
}

// The calling thread's current slab. Trivially destructible (no TLS guard on the hot path);
// a separate guard object retires the slab at thread exit.
struct ThreadSlab {
  SlabHeader* slab;
  char* next;
  char* end;
  int64_t handed_out;
};
thread_local ThreadSlab tls_slab;

struct RetireAtExit {
  ~RetireAtExit() { SlabRetireCurrent(); }
};
thread_local RetireAtExit tls_retire_at_exit;

void Retire(ThreadSlab& t) {
  if (t.slab == nullptr) return;
  SlabHeader* slab = t.slab;
  const int64_t unused_bias = kActiveBias - t.handed_out;
  t.slab = nullptr;
  t.next = t.end = nullptr;
  t.handed_out = 0;
  if (slab->live.fetch_sub(unused_bias, std::memory_order_acq_rel) == unused_bias) Recycle(slab);
}

}  // namespace

void* SlabAllocate(size_t size) {
  size = (size + 15) & ~size_t{15};
  ThreadSlab& t = tls_slab;
  if (t.next == nullptr || static_cast<size_t>(t.end - t.next) < size) {
    Retire(t);
    (void)&tls_retire_at_exit;  // registers the exit hook on this thread's first slab
    t.slab = NewSlab();
    t.next = reinterpret_cast<char*>(t.slab) + kHeaderSize;
    t.end = reinterpret_cast<char*>(t.slab) + kSlabSize;
  }
  void* p = t.next;
  t.next += size;
  ++t.handed_out;
  return p;
}

void SlabFree(void* p) {
  SlabHeader* slab = SlabOf(p);
  if (slab->live.fetch_sub(1, std::memory_order_acq_rel) == 1) Recycle(slab);
}

void SlabRetireCurrent() { Retire(tls_slab); }

void* SlabSideSlot(void* p) {
  SlabHeader* slab = SlabOf(p);
  void* side = slab->side.load(std::memory_order_acquire);
  if (side == nullptr) {
    void* mine = std::aligned_alloc(16, kSlabSize);
    if (mine == nullptr) throw std::bad_alloc();
    if (slab->side.compare_exchange_strong(side, mine, std::memory_order_acq_rel)) {
      side = mine;
    } else {
      std::free(mine);  // another thread's came first; `side` is it
    }
  }
  return static_cast<char*>(side) +
         (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(slab));
}

size_t SlabFreeListSize() {
  std::lock_guard<std::mutex> lock(g_free_mu);
  return g_free_slabs->size();
}

}  // namespace troupe::internal
