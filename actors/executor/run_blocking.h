// RunBlocking: run blocking work on the system's Executor from an actor, and get the result
// back as a message on that actor.
//
//   BlockingHandle h = RunBlocking(ctx(), [path] { return ReadWholeFile(path); },
//                                  [this](absl::StatusOr<std::string> contents) { ... });
//   absl::StatusOr<std::string> contents =
//       co_await RunBlockingAwait(ctx(), [path] { return ReadWholeFile(path); });
//
// `fn` runs on an executor thread, never on a worker, so it may block. It may return T,
// absl::StatusOr<T>, absl::Status or void; the result handed back is absl::StatusOr<T> (for T
// or StatusOr<T>) or absl::Status (for Status or void). Errors: RESOURCE_EXHAUSTED (executor
// saturated), FAILED_PRECONDITION (shutting down), CANCELLED (shutdown cancelled it), INTERNAL
// (fn threw), or fn's own error. The continuation runs as a message on the calling actor; if
// that actor has stopped, the work is not run at all.
//
// Thread safety: call from an actor's handler (ctx is owner only); BlockingHandle from any
// thread.
#ifndef ACTORS_EXECUTOR_RUN_BLOCKING_H_
#define ACTORS_EXECUTOR_RUN_BLOCKING_H_

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/executor/executor.h"
#include "framework/actor/actor.h"
#include "framework/base/describe_exception.h"
#include "framework/trace/trace_context.h"

namespace troupe {

// Cancels one RunBlocking request while it is queued.
class BlockingHandle {
 public:
  BlockingHandle() = default;
  explicit BlockingHandle(std::shared_ptr<std::atomic<bool>> cancelled)
      : cancelled_(std::move(cancelled)) {}
  // Queued work will not run; work already running finishes. Either way the continuation is
  // not called after this. Returns false if it was already cancelled.
  bool Cancel() { return cancelled_ && !cancelled_->exchange(true); }

 private:
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

namespace internal {

template <typename R>
struct BlockingResult {  // R: what fn returns
  using Type = absl::StatusOr<R>;
};
template <typename T>
struct BlockingResult<absl::StatusOr<T>> {
  using Type = absl::StatusOr<T>;
};
template <>
struct BlockingResult<absl::Status> {
  using Type = absl::Status;
};
template <>
struct BlockingResult<void> {
  using Type = absl::Status;
};

template <typename F>
using BlockingResultOf = typename BlockingResult<std::invoke_result_t<F&>>::Type;

// Runs fn, turning an exception into INTERNAL.
template <typename F>
BlockingResultOf<F> InvokeBlocking(F& fn) {
  using R = std::invoke_result_t<F&>;
  try {
    if constexpr (std::is_void_v<R>) {
      fn();
      return absl::OkStatus();
    } else {
      return fn();
    }
  } catch (...) {
    return absl::InternalError("blocking work threw: " +
                               DescribeException(std::current_exception()));
  }
}

}  // namespace internal

template <typename F, typename Done>
BlockingHandle RunBlocking(ActorContext& ctx, F fn, Done on_done) {
  using Result = internal::BlockingResultOf<F>;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto job = std::make_unique<internal::BlockingJob>();
  job->requester = internal::CellRef(ctx.cell_for_runtime());
  job->cancelled = cancelled;
  job->execute = [fn = std::move(fn), on_done = std::move(on_done), cancelled,
                  requester = job->requester, generation = job->requester->generation(),
                  trace = SavedTrace()](absl::Status failure) mutable
      -> internal::BlockingJob::Deliver {
    // The work and its result run in the requester's trace (its log lines carry the trace id).
    std::optional<Result> result;
    if (failure.ok()) {
      ScopedTrace traced(trace.get());
      result.emplace(internal::InvokeBlocking(fn));
    } else {
      result.emplace(std::move(failure));
    }
    return [on_done = std::move(on_done), cancelled = std::move(cancelled),
            requester = std::move(requester), generation, trace = std::move(trace),
            r = std::move(*result)]() mutable {
      ScopedTrace traced(trace.get());
      requester->EnqueueClosure(
          [on_done = std::move(on_done), cancelled, r = std::move(r)]() mutable {
            if (!cancelled->load(std::memory_order_acquire)) on_done(std::move(r));
          },
          generation);
    };
  };
  absl::StatusOr<Executor*> executor = Executor::Of(ctx.system());
  if (!executor.ok()) {
    job->Finish(executor.status());
  } else {
    (*executor)->Submit(std::move(job));
  }
  return BlockingHandle(std::move(cancelled));
}

// The coroutine form: `co_await RunBlockingAwait(ctx(), fn)` inside a Task<> handler.
// Like Ask's coroutine form, a copyable callable with non-trivial captures (a std::string, say)
// must be a named variable, not a lambda written inside the co_await (g++ 12; see task.h).
template <typename F>
auto RunBlockingAwait(ActorContext& ctx, F&& fn) {
  static_assert(internal::kArgumentSafeAcrossCoAwait<F>,
                "co_await RunBlockingAwait(): bind this callable to a named variable first, not a "
                "temporary (g++ 12 miscompiles such temporaries inside co_await); it is copied");
  using Result = internal::BlockingResultOf<std::decay_t<F>>;
  auto start = [ctx = &ctx, fn = std::decay_t<F>(std::forward<F>(fn))](auto resume) mutable {
    RunBlocking(*ctx, std::move(fn), std::move(resume));
  };
  return internal::HeapAwaiter<Result, decltype(start)>(std::move(start));
}

}  // namespace troupe

#endif  // ACTORS_EXECUTOR_RUN_BLOCKING_H_
