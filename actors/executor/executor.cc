#include "actors/executor/executor.h"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/actor/actor.h"
#include "framework/log/log.h"

namespace troupe {
namespace internal {

struct SubmitJob {
  std::unique_ptr<BlockingJob> job;
};
struct JobFinished {};
struct CancelQueued {};
using ExecutorProtocol = Protocol<SubmitJob, JobFinished, CancelQueued>;

// State shared by the Executor, its actor and its pool threads (which may outlive the Executor
// when a job overruns the shutdown deadline).
struct ExecutorShared {
  explicit ExecutorShared(ExecutorOptions o) : options(std::move(o)) {}
  const ExecutorOptions options;
  std::atomic<uint64_t> queued{0}, running{0}, completed{0}, rejected{0}, cancelled{0};
  std::atomic<bool> closing{false};
  metrics::Histogram job_seconds{metrics::ExponentialBuckets(0.0001, 4, 10)};  // 100 us .. 26 s
  ActorRef<ExecutorProtocol> actor;
  // Hand-off to the pool: the actor pushes a job only when a thread is idle.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<BlockingJob>> ready;  // guarded by mu
  bool stop = false;                               // guarded by mu
};

namespace {

void Count(std::atomic<uint64_t>& c, int64_t delta) {
  c.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
}

// Owns the queues: one FIFO per requester, served round-robin; hands jobs to idle threads.
class ExecutorActor : public Actor<ExecutorActor, ExecutorProtocol> {
 public:
  explicit ExecutorActor(std::shared_ptr<ExecutorShared> shared)
      : shared_(std::move(shared)), idle_threads_(shared_->options.threads) {}

  void Handle(SubmitJob s) {
    std::unique_ptr<BlockingJob> job = std::move(s.job);
    if (shared_->closing.load(std::memory_order_acquire)) {
      Count(shared_->rejected, 1);
      job->Finish(absl::FailedPreconditionError("the executor is shutting down"));
      return;
    }
    if (idle_threads_ == 0 && queued_ >= shared_->options.max_queued) {
      Count(shared_->rejected, 1);
      job->Finish(absl::ResourceExhaustedError(
          absl::StrCat("executor saturated: ", shared_->options.threads, " jobs running and ",
                       shared_->options.max_queued, " queued")));
      return;
    }
    const uint64_t id = job->requester->id();
    auto& queue = queues_[id];
    if (queue.empty()) round_robin_.push_back(id);
    queue.push_back(std::move(job));
    ++queued_;
    Count(shared_->queued, 1);
    Dispatch();
  }

  void Handle(JobFinished) {
    ++idle_threads_;
    Dispatch();
  }

  void Handle(CancelQueued) {
    for (auto& [id, queue] : queues_) {
      for (auto& job : queue) {
        Count(shared_->cancelled, 1);
        job->Finish(absl::CancelledError("the executor shut down before running this work"));
      }
    }
    Count(shared_->queued, -static_cast<int64_t>(queued_));
    queues_.clear();
    round_robin_.clear();
    queued_ = 0;
  }

 private:
  void Dispatch() {
    while (idle_threads_ > 0 && !round_robin_.empty()) {
      const uint64_t id = round_robin_.front();
      round_robin_.pop_front();
      auto it = queues_.find(id);
      std::unique_ptr<BlockingJob> job = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty()) {
        queues_.erase(it);
      } else {
        round_robin_.push_back(id);  // back of the round
      }
      --queued_;
      Count(shared_->queued, -1);
      if (job->cancelled->load(std::memory_order_acquire) || job->requester->stopped()) {
        Count(shared_->cancelled, 1);  // nobody wants the result: do not run it
        job->Drop();
        continue;
      }
      --idle_threads_;
      Count(shared_->running, 1);
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        shared_->ready.push_back(std::move(job));
      }
      shared_->cv.notify_one();
    }
  }

  std::shared_ptr<ExecutorShared> shared_;
  int idle_threads_;
  size_t queued_ = 0;
  absl::flat_hash_map<uint64_t, std::deque<std::unique_ptr<BlockingJob>>> queues_;
  std::deque<uint64_t> round_robin_;  // requesters with queued work, in serving order
};

void PoolThread(std::shared_ptr<ExecutorShared> shared) {
  for (;;) {
    std::unique_ptr<BlockingJob> job;
    {
      std::unique_lock<std::mutex> lock(shared->mu);
      shared->cv.wait(lock, [&] { return shared->stop || !shared->ready.empty(); });
      if (shared->ready.empty()) return;  // stop, and nothing left to run
      job = std::move(shared->ready.front());
      shared->ready.pop_front();
    }
    const absl::Time start = absl::Now();
    BlockingJob::Deliver deliver = job->Run(absl::OkStatus());  // the work (never throws)
    shared->job_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    job.reset();
    // Counted before the result is delivered: a requester that has its result sees it in stats().
    Count(shared->running, -1);
    Count(shared->completed, 1);
    std::move(deliver)();
    shared->actor.Tell(JobFinished{});  // a dead letter once the executor has stopped
  }
}

}  // namespace
}  // namespace internal

Executor::Executor(ActorSystem& system, ExecutorOptions options)
    : shared_(std::make_shared<internal::ExecutorShared>(std::move(options))),
      metrics_(&system.metrics()) {
  collector_ = metrics_->AddCollector([shared = shared_](metrics::Collection& out) {
    out.Gauge("troupe_executor_jobs_queued", "Blocking jobs waiting for a pool thread.", {},
              static_cast<double>(shared->queued.load(std::memory_order_relaxed)));
    out.Gauge("troupe_executor_jobs_running", "Blocking jobs running now.", {},
              static_cast<double>(shared->running.load(std::memory_order_relaxed)));
    out.Counter("troupe_executor_jobs_completed_total", "Blocking jobs that ran to the end.", {},
                static_cast<double>(shared->completed.load(std::memory_order_relaxed)));
    out.Counter("troupe_executor_jobs_rejected_total",
                "Blocking jobs refused: pool and queue full, or shutting down.", {},
                static_cast<double>(shared->rejected.load(std::memory_order_relaxed)));
    out.Counter("troupe_executor_jobs_cancelled_total",
                "Blocking jobs not run: cancelled, their requester stopped, or shutdown.", {},
                static_cast<double>(shared->cancelled.load(std::memory_order_relaxed)));
    out.Histogram("troupe_executor_job_seconds", "How long blocking jobs ran.", {},
                  shared->job_seconds.Snapshot());
  });
  auto actor = system.Spawn<internal::ExecutorActor>(shared_);
  if (actor.ok()) shared_->actor = *actor;  // otherwise Submit() fails every job
  for (int i = 0; i < shared_->options.threads; ++i) {
    threads_.emplace_back(internal::PoolThread, shared_);
  }
}

absl::StatusOr<Executor*> Executor::Of(ActorSystem& system, ExecutorOptions options) {
  if (options.threads < 1) return absl::InvalidArgumentError("an executor needs threads >= 1");
  return system.Extension<Executor>([&](ActorSystem& s) {
    return std::unique_ptr<Executor>(new Executor(s, std::move(options)));
  });
}

Executor::~Executor() {
  metrics_->RemoveCollector(collector_);
  Shutdown();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

const ExecutorOptions& Executor::options() const { return shared_->options; }

ExecutorStats Executor::stats() const {
  ExecutorStats s;
  s.queued = shared_->queued.load(std::memory_order_relaxed);
  s.running = shared_->running.load(std::memory_order_relaxed);
  s.completed = shared_->completed.load(std::memory_order_relaxed);
  s.rejected = shared_->rejected.load(std::memory_order_relaxed);
  s.cancelled = shared_->cancelled.load(std::memory_order_relaxed);
  return s;
}

void Executor::Submit(std::unique_ptr<internal::BlockingJob> job) {
  if (!shared_->actor || shared_->closing.load(std::memory_order_acquire)) {
    internal::Count(shared_->rejected, 1);
    job->Finish(absl::FailedPreconditionError(shared_->actor ? "the executor is shutting down"
                                                             : "the executor could not start"));
    return;
  }
  shared_->actor.Tell(internal::SubmitJob{std::move(job)});
}

// Shutdown, step by step:
//  1. Refuse new work. 2. Cancel the queue (or let it drain). 3. Wait for running (and, when
//  draining, queued) work up to the deadline; past it, cancel what is still queued. 4. Stop the
//  pool threads; a thread still running a job is detached and finishes on its own. 5. Stop the
//  actor.
void Executor::Shutdown() {
  if (shut_down_.exchange(true)) return;
  internal::ExecutorShared& s = *shared_;
  s.closing.store(true, std::memory_order_release);
  if (!s.options.drain_on_shutdown) s.actor.Tell(internal::CancelQueued{});
  const absl::Time deadline = absl::Now() + s.options.shutdown_deadline;
  auto busy = [&] {
    return s.running.load(std::memory_order_acquire) > 0 ||
           s.queued.load(std::memory_order_acquire) > 0;
  };
  while (busy() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (busy()) {
    s.actor.Tell(internal::CancelQueued{});
    Log(absl::LogSeverity::kWarning, "executor shutdown deadline passed with work still running");
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stop = true;
  }
  s.cv.notify_all();
  const bool overran = s.running.load(std::memory_order_acquire) > 0;
  for (std::thread& t : threads_) {
    if (!t.joinable()) continue;
    if (overran) {
      t.detach();  // it holds the shared state; it exits after its current job
    } else {
      t.join();
    }
  }
  s.actor.Stop();
}

}  // namespace troupe
