#include "framework/actor/system_core.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "framework/actor/actor.h"
#include "framework/base/describe_exception.h"
#include "framework/log/log.h"

namespace troupe {
namespace internal {
namespace {

std::atomic<uint64_t> g_unaddressed{0};

}  // namespace

void RecordUnaddressed(std::string_view type_name) {
  g_unaddressed.fetch_add(1, std::memory_order_relaxed);
  static LogLimit limit(5);  // a loop sending through an empty reference must not flood
  LogLimited(limit, absl::LogSeverity::kWarning, "a message was sent through an empty ActorRef (dead letter)",
             {{"message_type", absl::string_view(type_name.data(), type_name.size())}});
}

SystemCore::SystemCore(std::unique_ptr<Scheduler> scheduler, size_t max_actors, ActorSystem* facade,
                       std::shared_ptr<SpanSink> span_sink,
                       const std::vector<std::string>& measured_types,
                       std::shared_ptr<RecordHooks> record)
    : owned_scheduler_(std::move(scheduler)),
      scheduler_(owned_scheduler_.get()),
      max_actors_(max_actors),
      facade_(facade),
      span_sink_(std::move(span_sink)),
      record_(std::move(record)),
      measured_types_(measured_types.begin(), measured_types.end()),
      measure_all_types_(measured_types_.contains("*")) {}

void SystemCore::ForEachTypeMetrics(
    absl::FunctionRef<void(const std::string& type, const TypeMetrics& metrics)> fn) const {
  std::vector<std::pair<std::string, const TypeMetrics*>> types;
  {
    MutexLock lock(&type_metrics_mu_);
    for (const auto& [type, m] : type_metrics_) types.emplace_back(type, m.get());
  }
  for (const auto& [type, m] : types) fn(type, *m);  // entries live as long as the core
}

TypeMetrics* SystemCore::TypeMetricsFor(absl::string_view type, bool opted_in) {
  if (!opted_in && !measure_all_types_ &&
      (measured_types_.empty() || !measured_types_.contains(type))) {
    return nullptr;
  }
  MutexLock lock(&type_metrics_mu_);
  std::unique_ptr<TypeMetrics>& m = type_metrics_[type];
  if (m == nullptr) m = std::make_unique<TypeMetrics>();
  return m.get();
}

absl::StatusOr<CellRef> SystemCore::Spawn(BehaviorFactory behavior,
                                          const std::string_view* type_name, ActorCell* parent) {
  // Reserve a slot first so concurrent spawns cannot overshoot the limit.
  if (live_.fetch_add(1, std::memory_order_acq_rel) >= max_actors_) {
    live_.fetch_sub(1, std::memory_order_acq_rel);
    return absl::ResourceExhaustedError(
        absl::StrCat("actor limit reached (max_actors = ", max_actors_, ")"));
  }
  TypeMetrics* const type_metrics = TypeMetricsFor(
      absl::string_view(type_name->data(), type_name->size()), behavior.type_metrics);
  // Everything the cell is set up with happens before anyone (a shutdown) can send to it.
  auto make_cell = [&] {
    ActorCell* cell;
    uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
    // A recorded or replayed actor: a replay gives it the id it had in the recorded run (its
    // handlers may key their state by ids), matched by who spawned it and when.
    ActorTrack* track = nullptr;
    if (record_ != nullptr) {
      track = record_->Spawned(id, *type_name, tls_sending_track);
      id = track->key;
    }
    try {
      cell = ActorCell::Create(shared_from_this(), scheduler_, parent, id, type_name,
                               behavior.size, behavior.align, behavior.construct);
    } catch (...) {
      live_.fetch_sub(1, std::memory_order_acq_rel);  // the actor's constructor threw
      throw;
    }
    if (behavior.restart) cell->SetRestartable(std::move(behavior.restart));
    if (behavior.limit.capacity != 0) cell->SetMailboxLimit(behavior.limit);
    if (type_metrics != nullptr) cell->SetTypeMetrics(type_metrics);
    if (track != nullptr) cell->SetTrack(track);
    return cell;
  };
  ActorCell* cell;
  if (parent != nullptr) {
    cell = make_cell();
    parent->AdoptChild(cell);  // the parent's turn is running: it stops the child when it stops
  } else {
    MutexLock lock(&mu_);
    if (shutting_down_.load(std::memory_order_acquire)) {
      live_.fetch_sub(1, std::memory_order_acq_rel);
      return absl::FailedPreconditionError("the actor system is shutting down");
    }
    cell = make_cell();
    top_level_.insert(cell);
  }
  spawned_.fetch_add(1, std::memory_order_relaxed);
  CellRef ref(cell);
  scheduler_->Schedule(cell);  // a new mailbox is in the scheduled state: run OnStart
  return ref;
}

void SystemCore::Undeliverable(Envelope* e, uint64_t target_id, UndeliverableReason reason) {
  if (e->priority() != Priority::kSystem) {
    if (e->info()->undeliverable != nullptr) e->info()->undeliverable(e, reason);
    dead_letters_.Record({target_id, e->info()->name,
                          reason == UndeliverableReason::kMailboxFull
                              ? DeadLetterReason::kMailboxFull
                              : DeadLetterReason::kStopped});
  }
  DestroyEnvelope(e);
}

void SystemCore::OnTerminated(ActorCell* cell, bool top_level) {
  {
    MutexLock lock(&mu_);
    auto it = names_of_.find(cell);
    if (it != names_of_.end()) {
      for (const std::string& name : it->second) names_.erase(name);
      names_of_.erase(it);
    }
    if (top_level) top_level_.erase(cell);
  }
  live_.fetch_sub(1, std::memory_order_acq_rel);
}

void SystemCore::ReportFailure(const ActorCell& cell, std::exception_ptr error,
                               std::string_view context) {
  ReportFailure(cell, absl::InternalError(absl::StrCat(absl::string_view(context.data(),
                                                                         context.size()),
                                                       " threw: ", DescribeException(error))));
}

void SystemCore::ReportFailure(const ActorCell& cell, const absl::Status& reason) {
  const uint64_t n = failures_.fetch_add(1, std::memory_order_relaxed);
  // A crash storm must not become a stderr storm: the first 100, then every 1000th.
  if (n < 100 || n % 1000 == 0) {
    Log(absl::LogSeverity::kError, "actor failed",
        {{"actor_id", cell.id()},
         {"actor_type", absl::string_view(cell.type_name().data(), cell.type_name().size())},
         {"error", reason.message()}, {"failure", n + 1}});
  }
}

absl::Status SystemCore::Register(std::string name, const CellRef& cell, const void* protocol_id) {
  if (name.empty()) return absl::InvalidArgumentError("an actor name must not be empty");
  if (!cell) return absl::InvalidArgumentError("cannot register an empty ActorRef");
  MutexLock lock(&mu_);
  if (cell->stopped()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot register '", name, "': the actor has stopped"));
  }
  auto [it, inserted] = names_.try_emplace(name, Registration{cell, protocol_id});
  if (!inserted) {
    return absl::AlreadyExistsError(absl::StrCat("the name '", name, "' is already registered"));
  }
  names_of_[cell.get()].push_back(std::move(name));
  return absl::OkStatus();
}

absl::StatusOr<CellRef> SystemCore::Lookup(absl::string_view name, const void* protocol_id) const {
  MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it == names_.end()) {
    return absl::NotFoundError(absl::StrCat("no actor is registered as '", name, "'"));
  }
  if (it->second.protocol_id != protocol_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("the actor registered as '", name, "' has a different protocol"));
  }
  return it->second.cell;
}

absl::Status SystemCore::Unregister(absl::string_view name) {
  MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it == names_.end()) {
    return absl::NotFoundError(absl::StrCat("no actor is registered as '", name, "'"));
  }
  auto& names = names_of_[it->second.cell.get()];
  std::erase(names, std::string(name));  // absl::string_view -> std::string
  if (names.empty()) names_of_.erase(it->second.cell.get());
  names_.erase(it);
  return absl::OkStatus();
}

std::vector<CellRef> SystemCore::BeginOrderedShutdown() {
  std::vector<CellRef> order;
  {
    MutexLock lock(&mu_);
    shutting_down_.store(true, std::memory_order_release);
    for (ActorCell* cell : top_level_) order.emplace_back(cell);
  }
  std::sort(order.begin(), order.end(),
            [](const CellRef& a, const CellRef& b) { return a->id() > b->id(); });
  return order;
}

void SystemCore::BeginShutdown() {
  std::vector<CellRef> to_stop;
  {
    MutexLock lock(&mu_);
    shutting_down_.store(true, std::memory_order_release);
    for (ActorCell* cell : top_level_) to_stop.emplace_back(cell);
  }
  for (const CellRef& cell : to_stop) cell->RequestStop();
}

}  // namespace internal

uint64_t UnaddressedCount() { return internal::g_unaddressed.load(std::memory_order_relaxed); }

}  // namespace troupe
