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

Shard& ShardOf(const Envelope* e) {
  static Shard* const shards = new Shard[kShards];  // never destroyed: used until exit
  return shards[(reinterpret_cast<uintptr_t>(e) >> 4) % kShards];
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
    Shard& shard = ShardOf(reinterpret_cast<const Envelope*>(i << 4));
    MutexLock lock(&shard.mu);
    n += shard.traces.size();
  }
  return n;
}

}  // namespace troupe::internal
