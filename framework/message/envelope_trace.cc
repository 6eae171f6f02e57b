#include "framework/message/envelope_trace.h"

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "framework/base/mutex.h"

namespace troupe::internal {
namespace {

struct alignas(64) Shard {
  Mutex mu;
  absl::flat_hash_map<const Envelope*, TraceContext> traces ABSL_GUARDED_BY(mu);
};

constexpr size_t kShards = 64;

Shard* Shards() {
  static Shard* const shards = new Shard[kShards];  // never destroyed: used until exit
  return shards;
}

Shard& ShardOf(const Envelope* e) {
  // Envelopes are 16-byte aligned and often 32 bytes apart: mix the address, so every shard
  // gets its share.
  const uint64_t mixed =
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(e)) * 0x9E3779B97F4A7C15u;
  return Shards()[mixed >> 58];  // the top 6 bits: one of 64
}

}  // namespace

void AttachTrace(Envelope* e, const TraceContext& trace) {
  Shard& shard = ShardOf(e);
  {
    MutexLock lock(&shard.mu);
    shard.traces.insert_or_assign(e, trace);
  }
  e->set_traced(true);
}

TraceContext TakeTrace(Envelope* e) {
  e->set_traced(false);
  Shard& shard = ShardOf(e);
  MutexLock lock(&shard.mu);
  auto it = shard.traces.find(e);
  if (it == shard.traces.end()) return {};
  TraceContext trace = it->second;
  shard.traces.erase(it);
  return trace;
}

void DropEnvelopeTrace(Envelope* e) { (void)TakeTrace(e); }

size_t TracedEnvelopesInFlight() {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    MutexLock lock(&Shards()[i].mu);
    n += Shards()[i].traces.size();
  }
  return n;
}

}  // namespace troupe::internal
