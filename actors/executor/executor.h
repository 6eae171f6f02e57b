// Executor: where blocking work goes - files, DNS, blocking libraries, long CPU-bound calls -
// so that it never runs on a scheduler worker.
//
// Each ActorSystem owns one (an extension, created on first use). Its front door is an actor,
// the ExecutorActor, which keeps the queue; a bounded pool of its own threads runs the work;
// the result goes back to the requesting actor as a message (use RunBlocking(), run_blocking.h).
//
// Policy:
//   - Bounded: `threads` run at once (default 4, like libuv) and at most `max_queued` wait.
//     When both are full a request fails at once with RESOURCE_EXHAUSTED; nothing is dropped
//     silently and nothing grows without bound.
//   - Fair: each requesting actor has its own FIFO queue; queues are served round-robin, so an
//     actor flooding the executor delays the others by at most one job each turn of the round.
//   - Cancelled work is not run (and counted): work whose requester stopped, or that it cancelled
//     through its BlockingHandle.
//   - Failures stay with the request: work that returns an error status, or throws, yields an
//     error to its requester (INTERNAL for an exception); the pool carries on.
//   - Shutdown (the system's, or Shutdown()): new work is refused (FAILED_PRECONDITION); queued
//     work is cancelled (CANCELLED to its requesters) or, with `drain_on_shutdown`, run; running
//     work is awaited up to `shutdown_deadline`, after which its threads are left to finish
//     on their own (their results are dropped).
//
// Thread safety: all methods from any thread.
#ifndef ACTORS_EXECUTOR_EXECUTOR_H_
#define ACTORS_EXECUTOR_EXECUTOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "framework/actor/actor_cell.h"
#include "framework/system/actor_system.h"

namespace troupe {

struct ExecutorOptions {
  int threads = 4;
  size_t max_queued = 1024;  // waiting jobs, all requesters together
  bool drain_on_shutdown = false;
  absl::Duration shutdown_deadline = absl::Seconds(5);
};

struct ExecutorStats {
  uint64_t queued = 0;     // waiting now
  uint64_t running = 0;    // running now
  uint64_t completed = 0;  // ran to the end (successfully or with an error)
  uint64_t rejected = 0;   // refused: pool and queue full, or shutting down
  uint64_t cancelled = 0;  // not run: cancelled, requester stopped, or shutdown
};

namespace internal {

// One piece of blocking work. Run(OkStatus()) runs it (on a pool thread) and returns what
// delivers its result to the requester, so the pool can count the job as done before the
// requester can see the result; Run(error) takes `error` as the result without running the
// work. Finish(status) is Run and deliver at once; Drop() discards the job when nobody wants
// the result. A job destroyed before either (e.g. sent to an executor that has stopped) fails
// its request with FAILED_PRECONDITION: a requester is never left waiting.
struct BlockingJob {
  using Deliver = absl::AnyInvocable<void() &&>;

  BlockingJob() = default;
  BlockingJob(const BlockingJob&) = delete;
  BlockingJob& operator=(const BlockingJob&) = delete;
  ~BlockingJob() {
    if (execute) Finish(absl::FailedPreconditionError("the executor stopped before taking it"));
  }
  Deliver Run(absl::Status status) {
    auto run = std::move(execute);
    execute = nullptr;
    return run(std::move(status));
  }
  void Finish(absl::Status status) { std::move(Run(std::move(status)))(); }
  void Drop() { execute = nullptr; }

  CellRef requester;
  std::shared_ptr<std::atomic<bool>> cancelled;
  absl::AnyInvocable<Deliver(absl::Status)> execute;
};

struct ExecutorShared;

}  // namespace internal

class Executor final : public SystemExtension {
 public:
  // The system's executor; `options` apply if this call creates it.
  // FAILED_PRECONDITION: the system is shutting down.
  static absl::StatusOr<Executor*> Of(ActorSystem& system, ExecutorOptions options = {});

  ~Executor() override;

  // Also in the system's metrics: troupe_executor_jobs_{queued,running} (gauges),
  // troupe_executor_jobs_{completed,rejected,cancelled}_total, and troupe_executor_job_seconds
  // (a histogram of the time jobs ran). A job is counted (completed, no longer running, its time
  // observed) before its result is delivered: a requester holding its result sees it here.
  ExecutorStats stats() const;
  const ExecutorOptions& options() const;

  // Queues `job` (its requester gets the result or an error as a message).
  void Submit(std::unique_ptr<internal::BlockingJob> job);

  void Shutdown() override;

 private:
  Executor(ActorSystem& system, ExecutorOptions options);

  std::shared_ptr<internal::ExecutorShared> shared_;
  metrics::Registry* const metrics_;  // the system's: our figures at every scrape
  uint64_t collector_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> shut_down_{false};
};

}  // namespace troupe

#endif  // ACTORS_EXECUTOR_EXECUTOR_H_
