#include "framework/system/actor_system.h"

#include <cstdio>
#include <utility>

#include "framework/scheduler/work_stealing_scheduler.h"

namespace troupe {
namespace {

std::unique_ptr<Scheduler> MakeScheduler(const ActorSystemOptions& options) {
  WorkStealingOptions ws;
  ws.threads = options.threads;
  ws.budget = options.budget;
  ws.run_queue_capacity = options.run_queue_capacity;
  ws.spin_before_park = options.spin_before_park;
  ws.parker_factory = options.parker_factory;
  return std::make_unique<WorkStealingScheduler>(std::move(ws));
}

}  // namespace

ActorSystem::ActorSystem(ActorSystemOptions options)
    : ActorSystem(options, MakeScheduler(options)) {}

ActorSystem::ActorSystem(ActorSystemOptions options, std::unique_ptr<Scheduler> scheduler)
    : core_(
          std::make_shared<internal::SystemCore>(std::move(scheduler), options.max_actors, this)) {}

ActorSystem::~ActorSystem() {
  if (core_->scheduler().IsWorkerThread()) {
    std::fprintf(stderr, "troupe: an ActorSystem was destroyed by one of its own actors\n");
    std::abort();  // joining our own thread would deadlock
  }
  Shutdown();
}

void ActorSystem::Shutdown() {
  core_->BeginShutdown();
  Scheduler& scheduler = core_->scheduler();
  if (scheduler.IsWorkerThread()) return;  // from a handler: stop requested; the owner joins
  internal::SystemCore* core = core_.get();
  scheduler.RunUntil([core] { return core->live_actors() == 0; });
  scheduler.Shutdown();
}

ActorSystemStats ActorSystem::stats() const {
  ActorSystemStats s;
  s.live_actors = core_->live_actors();
  s.spawned = core_->spawned();
  s.failures = core_->failures();
  s.dead_letters = core_->dead_letters().count();
  s.scheduler = core_->scheduler().stats();
  return s;
}

}  // namespace troupe
