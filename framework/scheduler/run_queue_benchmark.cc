// Micro-benchmarks of the local run queue: bazel run -c opt
// //framework/scheduler:run_queue_benchmark
#include <benchmark/benchmark.h>

#include <vector>

#include "framework/scheduler/run_queue.h"

namespace troupe {
namespace {

struct Item final : Schedulable {
  RunOutcome Run(int) override { return RunOutcome::kIdle; }
};

void BM_OwnerPushPop(benchmark::State& state) {
  RunQueue q;
  Item item;
  for (auto _ : state) {
    (void)q.Push(&item);
    benchmark::DoNotOptimize(q.Pop());
  }
}
BENCHMARK(BM_OwnerPushPop);

// Fill half the ring, steal half of it into another queue, drain both.
void BM_StealHalf(benchmark::State& state) {
  RunQueue victim;
  RunQueue thief;
  std::vector<Item> items(128);
  for (auto _ : state) {
    for (auto& it : items) (void)victim.Push(&it);
    benchmark::DoNotOptimize(victim.StealInto(thief));
    while (thief.Pop() != nullptr) {
    }
    while (victim.Pop() != nullptr) {
    }
  }
  state.SetItemsProcessed(state.iterations() * items.size());
}
BENCHMARK(BM_StealHalf);

}  // namespace
}  // namespace troupe
