#include "framework/message/envelope_slab.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "framework/message/envelope.h"

namespace troupe::internal {
namespace {

TEST(EnvelopeSlabTest, ConsecutiveAllocationsAreContiguousAndAligned) {
  char* a = static_cast<char*>(SlabAllocate(24));
  char* b = static_cast<char*>(SlabAllocate(24));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
  EXPECT_EQ(b - a, 32);  // 24 rounded up to 16-byte steps
  SlabFree(a);
  SlabFree(b);
}

TEST(EnvelopeSlabTest, EmptyRetiredSlabsAreRecycled) {
  SlabRetireCurrent();
  const size_t before = SlabFreeListSize();
  std::vector<void*> blocks;
  for (size_t i = 0; i < 3 * kSlabSize / 64; ++i) blocks.push_back(SlabAllocate(64));  // > 2 slabs
  for (void* p : blocks) SlabFree(p);
  SlabRetireCurrent();
  EXPECT_GE(SlabFreeListSize(), before + 3);
}

TEST(EnvelopeSlabTest, ALiveBlockKeepsItsSlabUntilFreed) {
  SlabRetireCurrent();
  void* keep = SlabAllocate(32);
  SlabRetireCurrent();
  const size_t before = SlabFreeListSize();
  std::memset(keep, 0xAB, 32);  // still valid memory after its slab was retired
  SlabFree(keep);               // the last block: the slab is recycled now
  EXPECT_EQ(SlabFreeListSize(), before + 1);
}

// Each block has a side slot of its own: neighbours' slots do not overlap, a slot keeps what was
// written to it while the block lives (also across threads), and a recycled slab gives its
// mirror back.
TEST(EnvelopeSlabTest, EveryBlockHasASideSlotOfItsOwn) {
  SlabRetireCurrent();
  std::vector<char*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(static_cast<char*>(SlabAllocate(16 + 16 * (i % 3))));
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto* slot = static_cast<uint64_t*>(SlabSideSlot(blocks[i]));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(slot) % 16, 0u);
    slot[0] = i;
    slot[1] = ~i;
  }
  std::thread reader([&] {
    for (size_t i = 0; i < blocks.size(); ++i) {
      const auto* slot = static_cast<const uint64_t*>(SlabSideSlot(blocks[i]));
      EXPECT_EQ(slot[0], i);
      EXPECT_EQ(slot[1], ~i);
      SlabFree(blocks[i]);
    }
  });
  reader.join();
  SlabRetireCurrent();  // the slab is empty: recycled, its mirror freed (ASan: no leak)
}

// A producer allocates, a consumer frees (every actor message): no block is handed out twice
// while live (each carries its sequence number), and every slab is recycled exactly once.
TEST(EnvelopeSlabTest, ProducerConsumerAcrossThreads) {
#ifdef TROUPE_SANITIZED
  constexpr int kCount = 100000;
#else
  constexpr int kCount = 2000000;
#endif
  std::vector<std::atomic<int64_t*>> ring(4096);
  for (auto& r : ring) r.store(nullptr);
  std::atomic<int> corrupt{0};
  std::thread consumer([&] {
    for (int i = 0; i < kCount; ++i) {
      std::atomic<int64_t*>& slot = ring[i % ring.size()];
      int64_t* p;
      while ((p = slot.exchange(nullptr, std::memory_order_acquire)) == nullptr) {
      }
      if (*p != i) corrupt.fetch_add(1);
      SlabFree(p);
    }
  });
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i) {
      auto* p = static_cast<int64_t*>(SlabAllocate(32));
      *p = i;
      std::atomic<int64_t*>& slot = ring[i % ring.size()];
      while (slot.load(std::memory_order_acquire) != nullptr) {
      }
      slot.store(p, std::memory_order_release);
    }
  });  // the producer's last slab is retired at thread exit
  producer.join();
  consumer.join();
  EXPECT_EQ(corrupt.load(), 0);
}

struct alignas(64) Aligned {
  char bytes[64];
};

TEST(EnvelopeSlabTest, EnvelopesKeepTheirPayloadAlignment) {
  auto* small = new MessageEnvelope<int64_t>(0, 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 16, 0u);
  DestroyEnvelope(small);
  auto* aligned = new MessageEnvelope<Aligned>(0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(&aligned->payload) % 64, 0u);
  DestroyEnvelope(aligned);
  auto* big = new MessageEnvelope<std::array<char, 4096>>(0);
  DestroyEnvelope(big);
}

}  // namespace
}  // namespace troupe::internal
