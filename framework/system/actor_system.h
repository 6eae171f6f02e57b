// ActorSystem: the owner of a set of actors and of the scheduler that runs them.
//
//   troupe::ActorSystem system({.threads = 2});
//   auto counter = system.Spawn<Counter>().value();
//   counter.Tell(Increment{5});
//   absl::StatusOr<int> total = system.Ask(counter, Get{}, absl::Seconds(1)).get();
//
// Spawn, Ask, Register/Lookup and timers are available from any thread. Shutdown (also run by
// the destructor) proceeds in order:
//   0. extensions (e.g. the executor) shut down, newest first, while actors still run;
//   1. new top-level spawns are refused (FAILED_PRECONDITION);
//   2. every top-level actor is asked to stop; each stops its children; messages still queued
//      become dead letters (requests among them fail with NOT_FOUND);
//   3. the caller waits until no actor is alive (a handler that never returns delays this: a
//      warning is printed every 5 s);
//   4. the workers are joined and pending timers dropped.
// References that outlive the system stay safe: what is sent through them is a dead letter.
//
// Thread safety: all methods from any thread, except Shutdown() and the destructor, which must
// not run on one of the system's own workers (from a handler, Shutdown() only requests the
// stop of all actors and returns).
#ifndef FRAMEWORK_SYSTEM_ACTOR_SYSTEM_H_
#define FRAMEWORK_SYSTEM_ACTOR_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "framework/actor/actor.h"
#include "framework/actor/actor_ref.h"
#include "framework/actor/ask.h"
#include "framework/actor/dead_letters.h"
#include "framework/actor/delayed_send.h"
#include "framework/actor/system_core.h"
#include "framework/base/mutex.h"
#include "framework/base/type_name.h"
#include "framework/base/parker.h"
#include "framework/metrics/metrics.h"
#include "framework/scheduler/scheduler.h"
#include "framework/scheduler/turn_monitor.h"
#include "io/io_service.h"
#include "framework/trace/span_sink.h"
#include "io/backend_selector.h"

namespace troupe {

struct ActorSystemOptions {
  int threads = 0;                // worker threads; 0 = one per core
  int budget = 64;                // messages an actor handles per turn before others get a turn
  size_t max_actors = 1'000'000;  // Spawn past this returns RESOURCE_EXHAUSTED
  uint32_t run_queue_capacity = 256;
  // Spinning counts as searching, so work pushed meanwhile needs no futex wake-up (~8 us on
  // these VMs). 50 us: best of 20/50/100 on fanin/fjthrput/ring (bench/savina --spin_us).
  // A worker whose I/O backend has sockets does not spin: it waits in the kernel.
  absl::Duration spin_before_park = absl::Microseconds(50);
  // The actor of a TCP stream runs on the worker that owns its socket (its home), so its
  // writes go straight to the socket. If one has waited this long for its home worker, that
  // worker is overloaded and lets idle workers steal half of its homed backlog.
  absl::Duration home_max_wait = absl::Milliseconds(1);
  // A worker that is awake but has not taken work for this long has stalled (it runs a long
  // turn, or the kernel gave its core to another thread): another worker, about to park or
  // between its turns, then drives its epoll backend and runs the actors homed there until
  // nothing is left or it is back, so its connections do not wait for it (a sleeping worker is
  // woken for it by the turn watchdog, within slow_turn/4). Zero: never. epoll only (an
  // io_uring ring is driven by its own thread).
  absl::Duration take_over_after = absl::Microseconds(200);
  // Actors a worker's I/O completions (or timers) make runnable are run by that worker, not
  // shared with a sleeping one, until they would take it longer than this to run (its queued
  // actors times its mean turn): waking a sleeping worker costs ~15 us of CPU and ~40-50 us on
  // these VMs, more than a few short turns. Zero: wake one for any. Needs turn_timing (the
  // mean turn); a turn that runs long with actors queued behind it has the watchdog wake one.
  absl::Duration wake_cost = absl::Microseconds(50);
  // The I/O layer: `io.kind` is kAuto (io_uring if it works here, else epoll), kEpoll, kUring
  // (start-up fails if io_uring is unavailable) or kNone (no sockets; workers park on a futex);
  // `io.factory` gives the system backends of the caller's making (tests: fault injection).
  IoBackendOptions io;
  // Tests: creates worker i's Parker. When set, the system has no I/O layer (io() is null).
  std::function<std::unique_ptr<Parker>(int worker)> parker_factory;
  // The blocked-loop detector: a turn (an actor handling its messages) that runs longer than
  // `slow_turn` is reported once when it ends, and one still running after `stuck_turn` is
  // reported while it runs (by a watchdog thread); both are counted in metrics(). Zero or
  // infinite turns one off. `on_slow_turn` receives the reports (default: a line on stderr,
  // at most 5 a second). See framework/scheduler/turn_monitor.h.
  bool turn_timing = true;  // false: no turn figures and no detector (for A/B measurements)
  absl::Duration slow_turn = absl::Milliseconds(100);
  absl::Duration stuck_turn = absl::Seconds(1);
  std::function<void(const SlowTurnReport&)> on_slow_turn;
  // A stuck turn's report also carries the stuck worker's call stack (taken with a SIGRTMIN+7
  // to that thread: off by default, since a handler blocked in a system call sees it).
  bool stuck_turn_stack = false;
  // Where the spans of sampled traces go (framework/trace/span_sink.h; JsonLinesSpanSink writes
  // a file). Null: trace contexts still travel with messages, but no spans are recorded.
  std::shared_ptr<SpanSink> span_sink;
  // Actor types measured per type in metrics() - messages, handler latency, mailbox depth - as
  // if they declared kTypeMetrics (framework/actor/type_metrics.h), by their names as the
  // metrics show them (kTypeName); "*" measures every type.
  std::vector<std::string> measured_actor_types;
  // Records the run for a replay (framework/record/recorder.h: `options.recorder = recorder`),
  // or, in a replay, the replayer (framework/testing/replay.h). Set it before spawning.
  std::shared_ptr<internal::RecordHooks> recorder;
};

struct ActorSystemStats {
  size_t live_actors = 0;
  uint64_t spawned = 0;
  uint64_t failures = 0;  // handlers (or hooks) that threw or returned an error
  uint64_t restarts = 0;  // supervised actors rebuilt after a failure
  uint64_t dead_letters = 0;
  SchedulerStats scheduler;
  IoBackendStats io;  // summed over the workers' backends; zero without an I/O layer
};

// A system-wide service built on the actor system (the executor, actors/executor). The
// system owns it: created on first use, shut down at the start of the system's shutdown (while
// actors still run, so it can answer them), in reverse order of creation.
class SystemExtension {
 public:
  virtual ~SystemExtension() = default;
  // Called once, from the thread shutting the system down (never a worker).
  virtual void Shutdown() = 0;
};

class ActorSystem {
 public:
  // Aborts with a message if the I/O layer cannot start (e.g. io.kind = kUring where io_uring
  // is unavailable); Create() returns that error instead.
  explicit ActorSystem(ActorSystemOptions options = {});
  static absl::StatusOr<std::unique_ptr<ActorSystem>> Create(ActorSystemOptions options = {});
  // Runs on the given scheduler (tests use the deterministic one), without an I/O layer, or with
  // the given one (a simulation: framework/testing/simulation.h).
  ActorSystem(ActorSystemOptions options, std::unique_ptr<Scheduler> scheduler,
              std::unique_ptr<IoService> io = nullptr);
  ~ActorSystem();
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;

  // Spawns a top-level actor of type A constructed from `args`.
  // RESOURCE_EXHAUSTED: max_actors reached; FAILED_PRECONDITION: shutting down.
  template <typename A, typename... Args>
  absl::StatusOr<ActorRef<typename A::ActorProtocol>> Spawn(Args&&... args) {
    return internal::SpawnActor<A>(*core_, nullptr, std::forward<Args>(args)...);
  }

  // Sends request `msg` from outside the system. The future yields the reply, the responder's
  // error, NOT_FOUND (stopped target) or DEADLINE_EXCEEDED after `timeout`. Do not wait on the
  // future inside a handler: it would block a worker (use ActorContext::Ask there).
  template <typename P, typename M>
  auto Ask(const ActorRef<P>& to, M&& msg, absl::Duration timeout) {
    using R = typename P::template EntryOf<std::decay_t<M>>::Response;
    auto* state = new internal::FutureAskState<R>();
    std::future<absl::StatusOr<R>> future = state->future();
    SendAsk<P>(to, std::forward<M>(msg), timeout, internal::AskStateRef<R>(state, /*adopt=*/true));
    return future;
  }
  // Waits for such a future from a thread that is not a worker (main, a shutdown path) and
  // returns its value: future.get(), except that where this system's turns run on the calling
  // thread (a simulation, the deterministic test scheduler) it runs them meanwhile, so that the
  // answer can come at all.
  template <typename T>
  T Await(std::future<T> future) {
    if (scheduler().RunsTurnsOnCaller()) {
      scheduler().RunUntil([&future] {
        return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      });
    }
    return future.get();
  }

  // Sends plain message `msg` from outside the system, waiting (up to `timeout`) for room if
  // `to` has a kBackpressure mailbox; see ActorContext::TellWhenRoom for the outcomes. Waiting
  // on the future blocks the calling thread: never do it inside a handler.
  template <typename P, typename M>
  std::future<absl::Status> TellWhenRoom(const ActorRef<P>& to, M&& msg, absl::Duration timeout) {
    using T = std::decay_t<M>;
    static_assert(P::template kAccepts<T>, "this message type is not in the actor's Protocol");
    static_assert(!P::template EntryOf<T>::kIsRequest,
                  "TellWhenRoom sends plain messages; use Ask() for a Request<>");
    auto promise = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> future = promise->get_future();
    if (!to) {
      promise->set_value(absl::NotFoundError("TellWhenRoom through an empty ActorRef"));
      return future;
    }
    to.cell()->EnqueueWhenRoom(
        new MessageEnvelope<T>(P::template kTagOf<T>, std::forward<M>(msg)), timeout,
        [promise](absl::Status status) { promise->set_value(std::move(status)); });
    return future;
  }

  // The callback form, for code that must not block (e.g. a gRPC callback handler):
  // `done(absl::StatusOr<R>)` runs exactly once, on the thread that completes the ask (the
  // responder's worker or the deadline timer); it must not block either.
  // The handle cancels the request (done then gets the cancellation status, and a responder
  // that registered ActorContext::OnCancel hears of it).
  template <typename P, typename M, typename F>
  AskHandle Ask(const ActorRef<P>& to, M&& msg, absl::Duration timeout, F done) {
    using R = typename P::template EntryOf<std::decay_t<M>>::Response;
    internal::AskStateRef<R> state(new internal::CallbackAskState<R, F>(std::move(done)),
                                   /*adopt=*/true);
    AskHandle handle(state.get());
    SendAsk<P>(to, std::forward<M>(msg), timeout, std::move(state));
    return handle;
  }

  // Names: ALREADY_EXISTS if taken, FAILED_PRECONDITION if the actor stopped, INVALID_ARGUMENT
  // for an empty name. A name is released when its actor stops.
  template <typename P>
  absl::Status Register(std::string name, const ActorRef<P>& ref) {
    return core_->Register(std::move(name), internal::CellRef(ref.cell()), P::Id());
  }
  // NOT_FOUND if no actor has that name; INVALID_ARGUMENT if its protocol is not P.
  template <typename P>
  absl::StatusOr<ActorRef<P>> Lookup(absl::string_view name) const {
    auto cell = core_->Lookup(name, P::Id());
    if (!cell.ok()) return cell.status();
    return ActorRef<P>::FromCell(*std::move(cell));
  }
  absl::Status Unregister(absl::string_view name) { return core_->Unregister(name); }

  // Timers (not tied to an actor's lifetime; cancel through the handle).
  template <typename P, typename M>
  TimerHandle SendAfter(absl::Duration delay, const ActorRef<P>& to, M&& msg) {
    return internal::SendAfter(scheduler(), delay, to, std::forward<M>(msg));
  }
  template <typename P, typename M>
  TimerHandle SendPeriodically(absl::Duration period, const ActorRef<P>& to, M&& msg) {
    return internal::SendPeriodically(scheduler(), period, to, std::forward<M>(msg));
  }

  // Stops the system: extensions first (newest first), then the top-level actors one at a time
  // in reverse spawn order - each with its children - waiting up to `per_actor_deadline` for
  // each before going on, then waits until no actor is alive and joins the workers.
  void Shutdown();  // per-actor deadline 5 s
  void Shutdown(absl::Duration per_actor_deadline);

  // The system's extension of type T, created by `make(*this)` on first use. Thread-safe.
  // FAILED_PRECONDITION once the system is shutting down.
  template <typename T, typename Make>
  absl::StatusOr<T*> Extension(Make make) {
    static const char key = 0;
    MutexLock lock(&extensions_mu_);
    for (auto& [k, ext] : extensions_) {
      if (k == &key) return static_cast<T*>(ext.get());
    }
    if (extensions_closed_) {
      return absl::FailedPreconditionError("the actor system is shutting down");
    }
    std::unique_ptr<T> created = make(*this);
    T* raw = created.get();
    extensions_.emplace_back(&key, std::move(created));
    return raw;
  }

  DeadLetters& dead_letters() { return core_->dead_letters(); }
  // ActorSystemOptions::span_sink (null if none).
  SpanSink* span_sink() const { return core_->span_sink(); }
  ActorSystemStats stats() const;
  // The system's metrics: its own (actors, dead letters by reason, per worker figures, turn
  // durations, scheduling delay, slow turns, I/O) and whatever components and users register.
  // Served in Prometheus' format by actors/metrics:metrics_server.
  metrics::Registry& metrics() { return metrics_; }
  Scheduler& scheduler() const { return core_->scheduler(); }
  // The I/O layer (sockets: actors/tcp), or null when created with io.kind = kNone.
  IoService* io() const { return io_.get(); }

 private:
  ActorSystem(ActorSystemOptions options, std::unique_ptr<IoService> io);

  template <typename P, typename M, typename R>
  void SendAsk(const ActorRef<P>& to, M&& msg, absl::Duration timeout,
               internal::AskStateRef<R> ref) {
    using T = std::decay_t<M>;
    static_assert(P::template kAccepts<T>, "this message type is not in the actor's Protocol");
    static_assert(P::template EntryOf<T>::kIsRequest,
                  "Ask() needs a Request<T, R> entry in the Protocol; use Tell() for T");
    if (!to) {
      internal::RecordUnaddressed(kTypeName<T>);
      ref->TryComplete(absl::NotFoundError("Ask through an empty ActorRef"));
      return;
    }
    internal::SendRequest<T, R>(to.cell(), P::template kTagOf<T>, std::forward<M>(msg), timeout,
                                std::move(ref));
  }
  void ShutdownExtensions();

  void CollectMetrics(metrics::Collection& out) const;

  metrics::Registry metrics_;      // outlives everything that registers in it
  std::unique_ptr<IoService> io_;  // outlives the workers (joined in Shutdown)
  std::shared_ptr<internal::SystemCore> core_;
  uint64_t collector_ = 0;
  Mutex extensions_mu_;
  std::vector<std::pair<const void*, std::unique_ptr<SystemExtension>>> extensions_
      ABSL_GUARDED_BY(extensions_mu_);
  bool extensions_closed_ ABSL_GUARDED_BY(extensions_mu_) = false;
};

}  // namespace troupe

#endif  // FRAMEWORK_SYSTEM_ACTOR_SYSTEM_H_
