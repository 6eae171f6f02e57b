// Micro-benchmarks of the mailbox: bazel run -c opt //framework/mailbox:mailbox_benchmark
#include <benchmark/benchmark.h>

#include "framework/mailbox/mailbox.h"

namespace troupe {
namespace {

struct Small {
  int value;
};

// One producer and the consumer on the same thread: push + pop + allocation of the envelope.
void BM_PushPopSameThread(benchmark::State& state) {
  Mailbox box;
  for (auto _ : state) {
    box.Push(new MessageEnvelope<Small>(0, Small{1}));
    Envelope* e = box.Pop();
    benchmark::DoNotOptimize(e);
    DestroyEnvelope(e);
  }
}
BENCHMARK(BM_PushPopSameThread);

// Batches: push N, then pop N (the consumer takes the whole stack with one exchange).
void BM_PushBatchPopBatch(benchmark::State& state) {
  Mailbox box;
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) box.Push(new MessageEnvelope<Small>(0, Small{i}));
    for (int i = 0; i < n; ++i) DestroyEnvelope(box.Pop());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PushBatchPopBatch)->Arg(64)->Arg(1024);

// The idle round trip an actor pays per message in ping-pong: push into an idle mailbox,
// pop, mark idle again.
void BM_IdleRoundTrip(benchmark::State& state) {
  Mailbox box;
  box.Pop();
  box.TryMarkIdle();
  for (auto _ : state) {
    box.Push(new MessageEnvelope<Small>(0, Small{1}));
    DestroyEnvelope(box.Pop());
    box.Pop();
    benchmark::DoNotOptimize(box.TryMarkIdle());
  }
}
BENCHMARK(BM_IdleRoundTrip);

}  // namespace
}  // namespace troupe
