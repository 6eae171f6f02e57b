// Envelope memory: per-thread bump allocation from 64 KiB slabs.
//
// A flood of messages is memory-bound on the receiving side: the receiver walks every queued
// envelope once. Envelopes a thread allocates in a row sit next to each other in its current
// slab, so that walk streams through contiguous memory the hardware prefetches, and allocating
// is a pointer bump. Any thread may free: a free is one atomic decrement of the slab's live
// count; the slab is recycled when its last envelope is freed and its owner has moved on.
// (glibc malloc, by contrast, takes the allocating thread's arena lock for every cross-thread
// free, and a reuse pool scatters consecutive messages; both measured slower, see
// bench/results/README.md.)
//
// Memory: one live envelope keeps its 64 KiB slab alive, and each thread that has sent a
// message holds its current slab until it exits (so at most 64 KiB per idle sending thread).
// Up to 64 empty slabs (4 MiB) are kept for reuse; beyond that they are freed. Envelopes larger
// than kMaxSize, or over-aligned, use operator new. Under the sanitizers (TROUPE_SANITIZED)
// Envelope bypasses this so ASan sees each envelope; the allocator itself is tested directly.
//
// Thread safety: Allocate(), Free() and SideSlot() from any thread.
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_SLAB_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_SLAB_H_

#include <cstddef>

namespace troupe::internal {

inline constexpr size_t kSlabSize = 64 * 1024;
inline constexpr size_t kMaxSlabAllocation = 512;

// Returns 16-byte aligned memory for `size` bytes (size <= kMaxSlabAllocation).
void* SlabAllocate(size_t size);
// Frees memory returned by SlabAllocate, from any thread.
void SlabFree(void* p);
// Retires the calling thread's current slab (it is also retired at thread exit).
void SlabRetireCurrent();
// Empty slabs kept for reuse (for tests).
size_t SlabFreeListSize();
// 16 bytes of side data for the block at `p` (from SlabAllocate, 16-byte aligned, at least 16
// bytes): a slab that needs them gets a second 64 KiB mirroring it, allocated on first use and
// freed with the slab, so the slot of a block is at the block's offset in it. No lock, no
// lookup: what a recorded run keeps beside each envelope (envelope_origin.h) goes here. The
// block's owner uses its slot, like the block itself; a slot holds garbage until written.
void* SlabSideSlot(void* p);

}  // namespace troupe::internal

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_SLAB_H_
