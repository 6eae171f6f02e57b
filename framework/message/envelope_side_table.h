// EnvelopeSideTable<T>: data kept beside envelopes in flight, in a table keyed by their address,
// so that envelopes without it stay 16 bytes and pay one bit test (envelope.h). The trace
// context a message carries (envelope_trace.h) and its origin in a recorded run
// (envelope_origin.h) are kept this way.
//
// Thread safety: all methods from any thread (the table is sharded, each shard locked).
#ifndef FRAMEWORK_MESSAGE_ENVELOPE_SIDE_TABLE_H_
#define FRAMEWORK_MESSAGE_ENVELOPE_SIDE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "framework/base/mutex.h"

namespace troupe {
struct Envelope;
}  // namespace troupe

namespace troupe::internal {

template <typename T>
class EnvelopeSideTable {
 public:
  void Put(const Envelope* e, T value) {
    Shard& shard = ShardOf(e);
    MutexLock lock(&shard.mu);
    shard.map.insert_or_assign(e, std::move(value));
  }
  std::optional<T> Take(const Envelope* e) {
    Shard& shard = ShardOf(e);
    MutexLock lock(&shard.mu);
    auto it = shard.map.find(e);
    if (it == shard.map.end()) return std::nullopt;
    T value = std::move(it->second);
    shard.map.erase(it);
    return value;
  }
  size_t size() const {
    size_t n = 0;
    for (const Shard& shard : shards_) {
      MutexLock lock(&shard.mu);
      n += shard.map.size();
    }
    return n;
  }

 private:
  static constexpr size_t kShards = 64;
  struct alignas(64) Shard {
    mutable Mutex mu;
    absl::flat_hash_map<const Envelope*, T> map ABSL_GUARDED_BY(mu);
  };
  Shard& ShardOf(const Envelope* e) {
    // Envelopes are 16-byte aligned and often 32 bytes apart: mix the address, so every shard
    // gets its share.
    const uint64_t mixed =
        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(e)) * 0x9E3779B97F4A7C15u;
    return shards_[mixed >> 58];  // the top 6 bits: one of 64
  }
  Shard shards_[kShards];
};

}  // namespace troupe::internal

#endif  // FRAMEWORK_MESSAGE_ENVELOPE_SIDE_TABLE_H_
