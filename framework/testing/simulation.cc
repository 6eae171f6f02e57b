#include "framework/testing/simulation.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/io_service.h"

namespace troupe::testing {

// The simulation's scheduler and its step loop: the runnables (by stable_id), the timers on
// the manual clock, the backends and the activities, and the one generator every choice is
// drawn from.
class Simulation::Driver final : public Scheduler {
 public:
  Driver(const SimulationOptions& options, ManualClock* clock)
      : options_(options), clock_(clock), random_(options.seed) {}

  void Schedule(Schedulable* s) override {
    MutexLock lock(&mu_);
    runnable_.emplace(std::make_pair(s->stable_id(), next_seq_++), s);
  }
  TimerHandle AddTimer(absl::Time deadline, absl::Duration period,
                       absl::AnyInvocable<void()> callback) override {
    return timers_.Add(deadline, period, std::move(callback));
  }
  absl::Time Now() const override { return clock_->Now(); }
  bool IsWorkerThread() const override { return in_turn_; }
  int CurrentWorker() const override { return worker_; }
  // The system has stopped its actors: deliver the backends' last completions (a kClose
  // releases a connection's or listener's state), as a worker does before it exits.
  void Shutdown() override {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (InMemoryBackend* b : backends_) {
        if (b->HasReady()) {
          b->Poll(absl::ZeroDuration());
          any = true;
        }
      }
      if (!any) break;
    }
    timers_.Clear();
  }
  void RunUntil(const std::function<bool()>& done) override {
    uint64_t steps = 0;
    while (!done()) {
      if (++steps > options_.max_steps || !Step()) return;
    }
  }
  bool RunsTurnsOnCaller() const override { return true; }
  SchedulerStats stats() const override {
    SchedulerStats s;
    s.turns = turns_;
    s.timers_fired = timers_fired_;
    return s;
  }
  int num_workers() const override { return options_.workers; }

  void SetBackends(std::vector<InMemoryBackend*> backends) { backends_ = std::move(backends); }
  void AddActivity(Activity a) { activities_.push_back(std::move(a)); }
  void ClearActivities() { activities_.clear(); }
  void SetNetwork(InMemoryNetwork* net) { net_ = net; }

  bool Step() {
    // What can happen now: a turn (kTurn), backend i's completions (kBackend + i), activity j
    // (kActivity + j), the due timers (kTimers).
    std::vector<int> choices;
    bool has_runnable;
    {
      MutexLock lock(&mu_);
      has_runnable = !runnable_.empty();
    }
    if (has_runnable) choices.push_back(kTurn);
    for (size_t i = 0; i < backends_.size(); ++i) {
      if (backends_[i]->HasReady()) choices.push_back(kBackend + static_cast<int>(i));
    }
    for (size_t j = 0; j < activities_.size(); ++j) {
      if (activities_[j].wants()) choices.push_back(kActivity + static_cast<int>(j));
    }
    if (timers_.NextDeadline() <= clock_->Now()) choices.push_back(kTimers);
    if (choices.empty()) {
      // Nothing can happen until time passes: to the next timer or delayed bytes.
      absl::Time next = std::min(timers_.NextDeadline(),
                                 net_ != nullptr ? net_->NextDue() : absl::InfiniteFuture());
      for (const Activity& a : activities_) {
        if (a.wake_at) next = std::min(next, std::max(a.wake_at(), clock_->Now()));
      }
      if (next == absl::InfiniteFuture() || next <= clock_->Now()) return false;  // all quiet
      clock_->Set(next);
      Mix(kAdvance, static_cast<uint64_t>(absl::ToUnixNanos(next)));
      ++steps_;
      return true;
    }
    const int choice = choices[Pick(choices.size())];
    ++steps_;
    if (choice == kTurn) {
      RunTurn();
    } else if (choice == kTimers) {
      Mix(kTimers, 0);
      timers_fired_ += timers_.FireDue(clock_->Now());
    } else if (choice >= kActivity) {
      Mix(choice, 0);
      activities_[choice - kActivity].act();
    } else {
      worker_ = choice - kBackend;
      Mix(choice, static_cast<uint64_t>(backends_[worker_]->Poll(absl::ZeroDuration())));
      worker_ = -1;
    }
    return true;
  }

  uint64_t steps() const { return steps_; }
  uint64_t hash() const { return hash_; }
  bool IoSettled() const {
    for (InMemoryBackend* b : backends_) {
      if (b->HasReady()) return false;
    }
    return true;
  }

 private:
  enum : int { kTurn = 0, kTimers = 1, kAdvance = 2, kBackend = 16, kActivity = 1 << 20 };

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  void Mix(int kind, uint64_t value) {
    for (uint64_t v : {static_cast<uint64_t>(kind), value}) {
      hash_ ^= v + 0x9e3779b97f4a7c15ull + (hash_ << 6) + (hash_ >> 2);
    }
  }

  void RunTurn() {
    Schedulable* s;
    {
      MutexLock lock(&mu_);
      auto it = runnable_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(Pick(runnable_.size())));
      s = it->second;
      runnable_.erase(it);
    }
    const int budget = 1 + static_cast<int>(Pick(static_cast<size_t>(options_.max_budget)));
    const int home = s->home_worker();
    worker_ = home >= 0 && home < options_.workers && Pick(8) != 0
                  ? home  // mostly at home, as the work-stealing scheduler runs it
                  : static_cast<int>(Pick(static_cast<size_t>(options_.workers)));
    Mix(kTurn, s->stable_id() * 131 + static_cast<uint64_t>(budget) * 7 +
                   static_cast<uint64_t>(worker_));
    in_turn_ = true;
    const RunOutcome outcome = s->Run(budget);
    in_turn_ = false;
    worker_ = -1;
    ++turns_;
    if (outcome == RunOutcome::kYield) Schedule(s);
  }

  const SimulationOptions& options_;
  ManualClock* const clock_;
  std::mt19937_64 random_;
  Mutex mu_;
  std::map<std::pair<uint64_t, uint64_t>, Schedulable*> runnable_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  TimerQueue timers_;
  std::vector<InMemoryBackend*> backends_;
  std::vector<Activity> activities_;
  InMemoryNetwork* net_ = nullptr;
  bool in_turn_ = false;
  int worker_ = -1;
  uint64_t steps_ = 0, turns_ = 0, timers_fired_ = 0;
  uint64_t hash_ = 0;
};

Simulation::Simulation(SimulationOptions options)
    : options_(std::move(options)),
      clock_(std::make_unique<ManualClock>(absl::FromUnixSeconds(1'000'000))) {
  InMemoryNetworkOptions net;
  net.buffer_bytes = options_.buffer_bytes;
  net.faults = options_.faults;
  net.faults.seed = options_.seed * 0x9e3779b97f4a7c15ull + 1;
  net.clock = clock_.get();
  network_ = InMemoryNetwork::Create(net);
  auto driver = std::make_unique<Driver>(options_, clock_.get());
  driver_ = driver.get();
  driver_->SetNetwork(network_.get());
  IoBackendOptions io;
  std::vector<InMemoryBackend*> backends;
  io.factory = [this, &backends](int) -> absl::StatusOr<std::unique_ptr<IoBackend>> {
    std::unique_ptr<InMemoryBackend> b = network_->NewBackend();
    b->BindToCurrentThread();  // every backend is this thread's
    backends.push_back(b.get());
    return std::unique_ptr<IoBackend>(std::move(b));
  };
  absl::StatusOr<std::unique_ptr<IoService>> service = IoService::Create(io, options_.workers);
  if (!service.ok()) {  // the factory cannot fail
    std::fprintf(stderr, "simulation: %s\n", service.status().ToString().c_str());
    std::abort();
  }
  driver_->SetBackends(std::move(backends));
  system_ = std::make_unique<ActorSystem>(options_.system, std::move(driver), std::move(*service));
}

Simulation::~Simulation() {
  driver_->ClearActivities();  // they may point into a test's state that is gone by now
  system_.reset();
}

void Simulation::AddActivity(Activity activity) { driver_->AddActivity(std::move(activity)); }
bool Simulation::Step() { return driver_->Step(); }

bool Simulation::RunUntil(const std::function<bool()>& done) {
  for (uint64_t steps = 0; !done(); ++steps) {
    if (steps > options_.max_steps || !driver_->Step()) return false;
  }
  return true;
}

uint64_t Simulation::steps() const { return driver_->steps(); }
bool Simulation::IoSettled() const { return driver_->IoSettled(); }
uint64_t Simulation::trace_hash() const { return driver_->hash(); }

std::string Simulation::Describe() const {
  return absl::StrCat("seed=", options_.seed, " steps=", driver_->steps(),
                      " time=", absl::FormatTime(clock().Now()), " hash=", driver_->hash(),
                      " (rerun: SIM_SEED=", options_.seed, ")");
}

SimulationOutcome Simulation::Outcome(std::string failure) const {
  if (!failure.empty()) absl::StrAppend(&failure, " - ", Describe());
  return {options_.seed, driver_->steps(), driver_->hash(), std::move(failure)};
}

std::string SimulationOutcome::Summary() const {
  return absl::StrCat("seed ", seed, ": ", steps, " steps, trace hash ", hash);
}

std::string FirstFailure(uint64_t count, const std::function<SimulationOutcome(uint64_t)>& run) {
  const std::vector<uint64_t> seeds = SimulationSeeds(count);
  for (uint64_t seed : seeds) {
    SimulationOutcome out = run(seed);
    if (!out.failure.empty()) return std::move(out.failure);
    if (seeds.size() == 1) std::printf("%s\n", out.Summary().c_str());
  }
  return "";
}

std::vector<uint64_t> SimulationSeeds(uint64_t count, uint64_t first) {
  if (const char* one = std::getenv("SIM_SEED"); one != nullptr && *one != '\0') {
    return {std::strtoull(one, nullptr, 10)};
  }
  if (const char* many = std::getenv("SIM_SEEDS"); many != nullptr && *many != '\0') {
    count = std::strtoull(many, nullptr, 10);
  }
  if (const char* from = std::getenv("SIM_FIRST_SEED"); from != nullptr && *from != '\0') {
    first = std::strtoull(from, nullptr, 10);
  }
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < count; ++i) seeds.push_back(first + i);
  return seeds;
}

}  // namespace troupe::testing
