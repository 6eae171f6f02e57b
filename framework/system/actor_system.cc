#include "framework/system/actor_system.h"

#include <cstdio>
#include <string>
#include <utility>

#include "framework/scheduler/work_stealing_scheduler.h"
#include "framework/log/log.h"

namespace troupe {
namespace {

int WorkerCount(const ActorSystemOptions& options) { return ThreadsOrOnePerCore(options.threads); }

std::unique_ptr<Scheduler> MakeScheduler(const ActorSystemOptions& options, IoService* io) {
  WorkStealingOptions ws;
  ws.threads = WorkerCount(options);
  ws.budget = options.budget;
  ws.run_queue_capacity = options.run_queue_capacity;
  ws.spin_before_park = options.spin_before_park;
  ws.home_max_wait = options.home_max_wait;
  ws.take_over_after = options.take_over_after;
  ws.wake_cost = options.wake_cost;
  ws.parker_factory = options.parker_factory;
  ws.turns = {.enabled = options.turn_timing,
              .slow_turn = options.slow_turn,
              .stuck_turn = options.stuck_turn,
              .report = options.on_slow_turn,
              .stuck_stack = options.stuck_turn_stack};
  if (io != nullptr) ws.parker_factory = [io](int worker) { return io->MakeParker(worker); };
  return std::make_unique<WorkStealingScheduler>(std::move(ws));
}

absl::StatusOr<std::unique_ptr<IoService>> MakeIoService(const ActorSystemOptions& options) {
  if (options.io.kind == IoBackendKind::kNone || options.parker_factory) {
    return std::unique_ptr<IoService>();
  }
  return IoService::Create(options.io, WorkerCount(options));
}

std::unique_ptr<IoService> MakeIoServiceOrDie(const ActorSystemOptions& options) {
  auto io = MakeIoService(options);
  if (!io.ok()) {
    Log(absl::LogSeverity::kFatal, "cannot start the I/O layer", {{"error", io.status().message()}});
  }
  return std::move(*io);
}

}  // namespace

ActorSystem::ActorSystem(ActorSystemOptions options)
    : ActorSystem(options, MakeIoServiceOrDie(options)) {}

ActorSystem::ActorSystem(ActorSystemOptions options, std::unique_ptr<IoService> io)
    : io_(std::move(io)),
      core_(std::make_shared<internal::SystemCore>(MakeScheduler(options, io_.get()),
                                                   options.max_actors, this, options.span_sink,
                                                   options.measured_actor_types,
                                                   options.recorder)) {
  collector_ = metrics_.AddCollector([this](metrics::Collection& out) { CollectMetrics(out); });
}

absl::StatusOr<std::unique_ptr<ActorSystem>> ActorSystem::Create(ActorSystemOptions options) {
  auto io = MakeIoService(options);
  if (!io.ok()) return io.status();
  return std::unique_ptr<ActorSystem>(new ActorSystem(options, std::move(*io)));
}

ActorSystem::ActorSystem(ActorSystemOptions options, std::unique_ptr<Scheduler> scheduler,
                         std::unique_ptr<IoService> io)
    : io_(std::move(io)),
      core_(std::make_shared<internal::SystemCore>(std::move(scheduler), options.max_actors, this,
                                                   options.span_sink,
                                                   options.measured_actor_types,
                                                   options.recorder)) {
  collector_ = metrics_.AddCollector([this](metrics::Collection& out) { CollectMetrics(out); });
}

ActorSystem::~ActorSystem() {
  if (core_->scheduler().IsWorkerThread()) {
    // Joining our own thread would deadlock.
    Log(absl::LogSeverity::kFatal, "an ActorSystem was destroyed by one of its own actors");
  }
  Shutdown();
  {
    MutexLock lock(&extensions_mu_);
    while (!extensions_.empty()) extensions_.pop_back();  // newest first
  }
  metrics_.RemoveCollector(collector_);
}

void ActorSystem::ShutdownExtensions() {
  std::vector<SystemExtension*> to_shut;
  {
    MutexLock lock(&extensions_mu_);
    if (extensions_closed_) return;
    extensions_closed_ = true;
    for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) {
      to_shut.push_back(it->second.get());
    }
  }
  for (SystemExtension* ext : to_shut) ext->Shutdown();
}

void ActorSystem::Shutdown() { Shutdown(absl::Seconds(5)); }

void ActorSystem::Shutdown(absl::Duration per_actor_deadline) {
  Scheduler& scheduler = core_->scheduler();
  if (scheduler.IsWorkerThread()) {  // from a handler: request the stop; the owner joins
    core_->BeginShutdown();
    return;
  }
  ShutdownExtensions();
  // Newest first: an actor stops before the ones that existed when it was spawned (a session
  // before its lobby), so its last messages to them are still handled.
  for (const internal::CellRef& cell : core_->BeginOrderedShutdown()) {
    cell->RequestStop();
    const absl::Time deadline = absl::Now() + per_actor_deadline;
    scheduler.RunUntil([&] { return cell->stopped() || absl::Now() >= deadline; });
    if (!cell->stopped()) {
      Log(absl::LogSeverity::kWarning, "an actor did not stop in time (a handler may be blocked); shutdown goes on",
          {{"actor_id", cell->id()},
           {"actor_type", absl::string_view(cell->type_name().data(), cell->type_name().size())},
           {"waited", absl::FormatDuration(per_actor_deadline)}});
    }
  }
  core_->BeginShutdown();
  internal::SystemCore* core = core_.get();
  scheduler.RunUntil([core] { return core->live_actors() == 0; });
  scheduler.Shutdown();
}

void ActorSystem::CollectMetrics(metrics::Collection& out) const {
  out.Gauge("troupe_actors_live", "Actors alive now.", {},
            static_cast<double>(core_->live_actors()));
  out.Counter("troupe_actors_spawned_total", "Actors spawned.", {},
              static_cast<double>(core_->spawned()));
  out.Counter("troupe_actor_failures_total", "Handlers or hooks that threw or returned an error.",
              {}, static_cast<double>(core_->failures()));
  out.Counter("troupe_actor_restarts_total", "Supervised actors rebuilt after a failure.", {},
              static_cast<double>(core_->restarts()));
  for (int r = 0; r < kDeadLetterReasons; ++r) {
    const auto reason = static_cast<DeadLetterReason>(r);
    out.Counter("troupe_dead_letters_total", "Messages that could not be delivered, by reason.",
                {{"reason", std::string(DeadLetterReasonName(reason))}},
                static_cast<double>(core_->dead_letters().count(reason)));
  }
  core_->ForEachTypeMetrics([&out](const std::string& type, const internal::TypeMetrics& m) {
    const metrics::Collection::Labels labels = {{"type", type}};
    out.Counter("troupe_actor_messages_total",
                "Messages handled by the actors of a measured type (opt-in).", labels,
                static_cast<double>(m.handled.Value()));
    out.Histogram("troupe_actor_handler_seconds",
                  "How long handlers of a measured actor type took (opt-in).", labels,
                  m.handler_seconds.Snapshot());
    out.Gauge("troupe_actor_mailbox_depth",
              "Messages waiting in the mailboxes of a measured type's live actors (opt-in).",
              labels, static_cast<double>(m.MailboxDepth()));
  });
  core_->scheduler().CollectMetrics(out);
  if (io_ != nullptr) {
    const IoBackendStats io = io_->stats();
    const metrics::Collection::Labels backend = {{"backend", std::string(io_->backend_name())}};
    out.Counter("troupe_io_polls_total", "I/O backend polls.", backend, static_cast<double>(io.polls));
    out.Counter("troupe_io_waits_total", "I/O polls that blocked in the kernel.", backend,
                static_cast<double>(io.waits));
    out.Counter("troupe_io_syscalls_total", "System calls made by the I/O backends.", backend,
                static_cast<double>(io.syscalls));
    out.Counter("troupe_io_completions_total", "I/O completions delivered.", backend,
                static_cast<double>(io.completions));
    out.Counter("troupe_io_errors_total",
                "I/O operations that failed (a connection reset or refused, ...).", backend,
                static_cast<double>(io.errors));
    out.Counter("troupe_io_posted_total",
                "Operations handed to the thread driving a backend (the caller could not drive "
                "it).",
                backend, static_cast<double>(io.posted));
    out.Counter("troupe_io_sent_now_total",
                "Writes sent whole by the writer's thread, without driving the backend.", backend,
                static_cast<double>(io.sent_now));
  }
}

ActorSystemStats ActorSystem::stats() const {
  ActorSystemStats s;
  s.live_actors = core_->live_actors();
  s.spawned = core_->spawned();
  s.failures = core_->failures();
  s.restarts = core_->restarts();
  s.dead_letters = core_->dead_letters().count();
  s.scheduler = core_->scheduler().stats();
  if (io_ != nullptr) s.io = io_->stats();
  return s;
}

}  // namespace troupe
