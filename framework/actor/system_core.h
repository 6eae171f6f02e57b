// SystemCore: the state every actor of one ActorSystem shares - the scheduler, dead letters,
// the name registry, the set of top-level actors and the live-actor count. ActorSystem (in
// framework/system) is the user-facing owner; cells hold a shared_ptr to the core, so an
// ActorRef that outlives its system still has somewhere to report dead letters.
//
// Thread safety: all methods from any thread unless noted.
#ifndef FRAMEWORK_ACTOR_SYSTEM_CORE_H_
#define FRAMEWORK_ACTOR_SYSTEM_CORE_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "framework/actor/actor_cell.h"
#include "framework/actor/dead_letters.h"
#include "framework/actor/type_metrics.h"
#include "framework/base/mutex.h"
#include "framework/scheduler/scheduler.h"
#include "framework/actor/record_hooks.h"
#include "framework/trace/span_sink.h"

namespace troupe {

class ActorSystem;

namespace internal {

class SystemCore : public std::enable_shared_from_this<SystemCore> {
 public:
  // Owns `scheduler`: it lives as long as any cell of this system, so late sends stay safe.
  // `span_sink` (may be null) receives the spans of sampled traces (framework/trace).
  // `measured_types`: actor type names measured per type as if they opted in ("*": all).
  // `record` (may be null): a recorder or replayer; every actor then gets a track
  // (record_hooks.h).
  SystemCore(std::unique_ptr<Scheduler> scheduler, size_t max_actors, ActorSystem* facade,
             std::shared_ptr<SpanSink> span_sink = nullptr,
             const std::vector<std::string>& measured_types = {},
             std::shared_ptr<RecordHooks> record = nullptr);

  Scheduler& scheduler() const { return *scheduler_; }
  DeadLetters& dead_letters() { return dead_letters_; }
  ActorSystem& facade() const { return *facade_; }
  SpanSink* span_sink() const { return span_sink_.get(); }

  // Creates a cell for `behavior` and schedules its start. `parent` null means top-level;
  // otherwise the call must come from inside the parent's turn.
  // RESOURCE_EXHAUSTED: max_actors live actors already; FAILED_PRECONDITION: shutting down.
  // `construct` builds the user object (`size` bytes, aligned to `align`) in the cell's block;
  // it runs only if the spawn is allowed.
  // `restart` (optional): makes a supervised child, rebuilt in place when it fails.
  struct BehaviorFactory {
    size_t size;
    size_t align;
    absl::FunctionRef<ActorBase*(void* storage)> construct;
    std::unique_ptr<BehaviorMaker> restart = nullptr;
    MailboxLimit limit = {};
    bool type_metrics = false;  // the type opts in (type_metrics.h)
  };
  absl::StatusOr<CellRef> Spawn(BehaviorFactory behavior, const std::string_view* type_name,
                                ActorCell* parent);

  // A message could not be delivered to actor `target_id`: fail it if it is a request, count it
  // (unless it is a system signal), destroy it.
  void Undeliverable(Envelope* e, uint64_t target_id,
                     UndeliverableReason reason = UndeliverableReason::kStopped);

  // Called once by a terminating cell, from its last turn (while it still holds itself).
  void OnTerminated(ActorCell* cell, bool top_level);

  // A handler (or start/stop hook) failed: report it and count it.
  void ReportFailure(const ActorCell& cell, std::exception_ptr error, std::string_view context);
  void ReportFailure(const ActorCell& cell, const absl::Status& reason);
  void CountRestart() { restarts_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t restarts() const { return restarts_.load(std::memory_order_relaxed); }

  // ALREADY_EXISTS: the name is taken; FAILED_PRECONDITION: the actor has stopped;
  // INVALID_ARGUMENT: empty name.
  absl::Status Register(std::string name, const CellRef& cell, const void* protocol_id);
  // NOT_FOUND: no such name; INVALID_ARGUMENT: registered with another protocol.
  absl::StatusOr<CellRef> Lookup(absl::string_view name, const void* protocol_id) const;
  // Removes a registration; NOT_FOUND if absent.
  absl::Status Unregister(absl::string_view name);

  // Refuses new top-level spawns and asks every top-level actor to stop (children follow).
  void BeginShutdown();
  // Refuses new top-level spawns and returns the live top-level actors, newest first (reverse
  // spawn order), for the caller to stop one by one.
  std::vector<CellRef> BeginOrderedShutdown();
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }

  size_t live_actors() const { return live_.load(std::memory_order_acquire); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t spawned() const { return spawned_.load(std::memory_order_relaxed); }

  // Calls fn(type name, its metrics) for every actor type measured so far.
  void ForEachTypeMetrics(
      absl::FunctionRef<void(const std::string& type, const TypeMetrics& metrics)> fn) const;

 private:
  struct Registration {
    CellRef cell;
    const void* protocol_id;
  };

  const std::unique_ptr<Scheduler> owned_scheduler_;
  Scheduler* const scheduler_;
  const size_t max_actors_;
  ActorSystem* const facade_;
  const std::shared_ptr<SpanSink> span_sink_;
  const std::shared_ptr<RecordHooks> record_;
  const absl::flat_hash_set<std::string> measured_types_;
  const bool measure_all_types_;
  DeadLetters dead_letters_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> live_{0};
  std::atomic<uint64_t> spawned_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> restarts_{0};
  std::atomic<bool> shutting_down_{false};

  mutable Mutex mu_;
  // Live top-level cells (no reference: each is removed here before its last reference goes).
  absl::flat_hash_set<ActorCell*> top_level_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Registration> names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ActorCell*, std::vector<std::string>> names_of_ ABSL_GUARDED_BY(mu_);
  // Per measured type; entries are never removed (cells point to them). Their own lock: a
  // scrape reads them while a spawn may hold mu_ (and take the metrics registry's lock).
  mutable Mutex type_metrics_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TypeMetrics>> type_metrics_
      ABSL_GUARDED_BY(type_metrics_mu_);
  // The TypeMetrics of a type that is measured (made on first use), else null.
  TypeMetrics* TypeMetricsFor(absl::string_view type, bool opted_in);
};

}  // namespace internal
}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_SYSTEM_CORE_H_
