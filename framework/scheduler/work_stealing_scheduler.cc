// The worker loop, step by step:
//  1. Every `injection_interval` turns: fire due timers and take one item from the injection
//     queue first, so foreign work and timers are served even under a saturating local load;
//     and if the oldest homed item has waited `home_max_wait`, spill half of the homed queue
//     into the run queue, where idle workers may steal it (the worker is overloaded).
//  2. The LIFO slot, unless it already ran `max_lifo_streak` times in a row while other local
//     work waits (then it moves to the back of its queue).
//  3. The local run queue and the homed queue (with the inbox appended to it), alternately
//     first, then the injection queue.
//  4. Search: become a searcher (at most half the workers at once) and steal half of a
//     victim's run queue, victims tried from a random start.
//  5. Deliver the I/O completions already known without a syscall (Parker::PollReady: they
//     make actors runnable here), then fire due timers; if either produced work, go to 1. The
//     kernel is polled by step 1 (so a saturated worker still serves its sockets), by the
//     spin, and by the park itself.
//  6. Spin for up to `spin_before_park`, watching every queue (and polling I/O every ~10 us);
//     a lone worker does not spin: nobody else can hand it work; nor does one whose Parker
//     says it should wait in the kernel (a worker whose backend has sockets: the client of an
//     I/O-bound service often needs the core, and the socket wakes the wait anyway), nor one a
//     WorkerSource serves (its events reach a parked worker; a spinning one would not see them).
//  7. Take over a stalled worker's I/O: one that is awake but has not taken work for
//     `take_over_after` (in a long turn, or preempted by another thread on its core) cannot
//     serve its sockets, whose actors are homed on it. If its Parker lets us (epoll, with
//     sockets), we drive its backend and run its homed queue and inbox, in bounded rounds that
//     end when nothing is left or it takes work again, then hand it back. Also tried in step 1,
//     so a busy worker helps too. While one is stalled, parks are bounded by take_over_after
//     (to keep helping); the TurnMonitor's watchdog wakes a parked worker when it sees a long
//     turn (a helper whose own sockets are quiet would not look otherwise).
//  8. Park: register as a sleeper; the last searcher to park re-checks every queue and wakes a
//     worker if it finds work (so work published during the transition is not stranded). Sleep
//     in the Parker until woken or until the next timer deadline (see 7 for a stall).
// Wake-ups: pushing to a run queue or the injection queue wakes one sleeper, only if nobody is
// searching (IdleSet). A woken worker counts as searching; when a searcher finds work and was
// the last one, it wakes the next sleeper if more work is visible, so wake-ups propagate one
// at a time and stop where the work does.
// Homes: a Schedulable with a home worker (its socket's) scheduled on that worker goes to the
// LIFO slot or the homed queue, which thieves never see, so it wakes nobody; scheduled
// elsewhere it goes to the home's inbox and unparks the home (a syscall only if the home sleeps
// in the kernel, and only the first push of a batch finds it there).
#include "framework/scheduler/work_stealing_scheduler.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/base/cpu_relax.h"
#include "framework/log/log.h"

namespace troupe {

// Counters are written only by their worker and read by stats(): relaxed load+store, no RMW.
struct Counter {
  std::atomic<uint64_t> value{0};
  void Add(uint64_t n = 1) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return value.load(std::memory_order_relaxed); }
};

struct WorkStealingScheduler::Worker {
  Worker(int i, uint32_t capacity, std::unique_ptr<Parker> p)
      : index(i), queue(capacity), parker(std::move(p)), rng(0x9E3779B97F4A7C15ull * (i + 1)) {}

  uint32_t NextRandom() {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return static_cast<uint32_t>((rng * 0x2545F4914F6CDD1Dull) >> 32);
  }

  const int index;
  RunQueue queue;
  std::unique_ptr<Parker> parker;
  std::thread thread;
  // Homed Schedulables scheduled from other threads; drained into `homed` by the owner.
  InjectionQueue inbox;
  // Owner-only state.
  struct Homed {
    Schedulable* s;
    absl::Time since;  // when it became runnable here (for home_max_wait)
  };
  std::deque<Homed> homed;  // runnable, homed here; not stealable (see homed_locked)
  Schedulable* lifo = nullptr;
  // Its TurnMonitor state: also the worker's turn bookkeeping (in a turn, turns run).
  TurnMonitor::WorkerState* monitor = nullptr;
  // Inside parker->Park(): read by WakeOne on this worker, and by others' stall detection (a
  // parked worker is woken by its I/O: not stalled).
  std::atomic<bool> parked{false};
  // For other workers' stall detection (TakeOverStalled): when it last took work (stamped every
  // 8th look, and on leaving Park; ns of clock_).
  std::atomic<int64_t> active_ns{0};
  // Guards `homed` when take-overs are on (LockHomed): taken by this worker for each push or
  // pop, by a worker taking its I/O over for the whole take-over.
  std::atomic<bool> homed_locked{false};
  bool in_source_poll = false;  // inside PollSources
  // Set while this worker uses the worker-source list (polling, or parked with the sources told):
  // RemoveWorkerSource waits for it to clear.
  std::atomic<bool> in_sources{false};
  const std::vector<WorkerSource*>* parked_with = nullptr;  // the sources told it parks
  bool searching = false;
  int lifo_streak = 0;
  uint64_t tick = 0;
  uint64_t rng;
  // Statistics.
  Counter lifo_turns, steals, stolen, injected, overflows, parks, timers_fired, sent_home,
      spilled, take_overs, taken_over_turns;
};

namespace {
thread_local WorkStealingScheduler* tls_scheduler = nullptr;
thread_local void* tls_worker = nullptr;
}  // namespace

int ThreadsOrOnePerCore(int threads) {
  return threads > 0 ? threads
                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

WorkStealingScheduler::WorkStealingScheduler(WorkStealingOptions options)
    : options_(std::move(options)),
      clock_(&MonotonicClock::Get()),
      take_over_after_ns_(absl::ToInt64Nanoseconds(options_.take_over_after)),
      wake_cost_ns_(absl::ToInt64Nanoseconds(options_.wake_cost)),
      idle_(ThreadsOrOnePerCore(options_.threads)),
      monitor_(ThreadsOrOnePerCore(options_.threads), options_.turns,
               [this](int worker) { OnLongTurn(worker); }) {
  const int n = ThreadsOrOnePerCore(options_.threads);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<Parker> parker =
        options_.parker_factory ? options_.parker_factory(i) : std::make_unique<FutexParker>();
    workers_.push_back(std::make_unique<Worker>(i, options_.run_queue_capacity, std::move(parker)));
    workers_.back()->monitor = monitor_.worker(i);
  }
  // Stall detection only where some worker's I/O can be taken over (epoll), by another worker.
  take_over_ = n > 1 && options_.take_over_after > absl::ZeroDuration() &&
               std::any_of(workers_.begin(), workers_.end(),
                           [](const auto& w) { return w->parker->MayBeTakenOver(); });
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { WorkerLoop(*worker); });
  }
  started_.store(true, std::memory_order_release);
}

WorkStealingScheduler::~WorkStealingScheduler() { Shutdown(); }

bool WorkStealingScheduler::IsWorkerThread() const { return tls_scheduler == this; }

int WorkStealingScheduler::CurrentWorker() const {
  return tls_scheduler == this ? static_cast<Worker*>(tls_worker)->index : -1;
}

void WorkStealingScheduler::Schedule(Schedulable* s) {
  thread_local uint32_t schedules = 0;  // a sample of them is timed (TurnMonitor)
  if (monitor_.SampleSchedule(++schedules)) [[unlikely]] s->scheduled_at_ns = TurnMonitor::NowNs();
  const int home = s->home_worker();
  if (tls_scheduler == this) {
    Worker& w = *static_cast<Worker*>(tls_worker);
    if (home >= 0 && home != w.index) {
      w.sent_home.Add();
      SendHome(home, s);
      return;
    }
    const bool in_turn = TurnMonitor::InTurn(*w.monitor);
    if (in_turn || w.in_source_poll) {
      // Made runnable by the running turn (or a source's event): run it next, hot in cache.
      Schedulable* displaced = w.lifo;
      w.lifo = s;
      if (displaced != nullptr) {
        PushLocal(w, displaced, in_turn ? Wake::kAlways : Wake::kWhenWorthIt);
      }
      return;
    }
    PushLocal(w, s, Wake::kWhenWorthIt);  // an I/O completion's, a timer's
    return;
  }
  if (home >= 0) {
    SendHome(home, s);
    return;
  }
  injection_.Push(s);
  WakeOne();
}

void WorkStealingScheduler::SendHome(int home, Schedulable* s) {
  Worker& target = *workers_[home % static_cast<int>(workers_.size())];
  target.inbox.Push(s);
  // Not through IdleSet: only the home may run it. A home that is awake finds it at its next
  // turn (and this Unpark only makes its next park return at once); a parked one wakes.
  target.parker->Unpark();
}

bool WorkStealingScheduler::LockHomed(Worker& v) {
  return !take_over_ || !v.homed_locked.exchange(true, std::memory_order_acquire);
}

void WorkStealingScheduler::UnlockHomed(Worker& v) {
  if (take_over_) v.homed_locked.store(false, std::memory_order_release);
}

bool WorkStealingScheduler::WorthWaking(const Worker& w) const {
  const int64_t mean = monitor_.mean_turn_ns(w.index);
  if (mean <= 0 || wake_cost_ns_ <= 0) return true;  // not measured: as if it were
  return static_cast<int64_t>(w.queue.Size()) * mean >= wake_cost_ns_;
}

void WorkStealingScheduler::PushLocal(Worker& w, Schedulable* s, Wake wake) {
  const int home = s->home_worker();
  if (home == w.index) {
    // Only this worker runs it (or one taking its I/O over): nobody to wake.
    if (!LockHomed(w)) {  // being taken over: the taker runs what reaches the inbox
      w.inbox.Push(s);
      return;
    }
    w.homed.push_back({s, clock_->Now()});
    UnlockHomed(w);
    return;
  }
  if (home >= 0) {  // e.g. stolen from an overloaded home, and not done: back home
    w.sent_home.Add();
    SendHome(home, s);
    return;
  }
  if (Schedulable* overflow = w.queue.Push(s)) {
    injection_.PushChain(overflow);
    w.overflows.Add();
  }
  // Else this worker, awake (it is delivering its I/O, or firing timers), runs it soon; a long
  // turn meanwhile has the watchdog wake a sleeper for it (OnLongTurn).
  if (wake == Wake::kAlways || WorthWaking(w)) WakeOne();
}

void WorkStealingScheduler::WakeOne(bool force) {
  const int sleeper = idle_.PopSleeperToWake(force);
  if (sleeper < 0) return;
  // An I/O parker delivers completions (which schedule actors) inside Parker::Park, while its
  // worker still counts as asleep: popping ourselves there means we are awake already (and a
  // completion delivered before the kernel wait makes that wait non-blocking), so a
  // self-Unpark would only make the next sleep return at once. Elsewhere in Park (the last
  // searcher's re-check) the self-Unpark is what keeps the work from stranding.
  if (tls_scheduler == this && tls_worker == workers_[sleeper].get() &&
      workers_[sleeper]->parked.load(std::memory_order_relaxed)) {
    return;
  }
  workers_[sleeper]->parker->Unpark();
}

TimerHandle WorkStealingScheduler::AddTimer(absl::Time deadline, absl::Duration period,
                                            absl::AnyInvocable<void()> callback) {
  bool earliest_changed = false;
  TimerHandle handle = timers_.Add(deadline, period, std::move(callback), &earliest_changed);
  // A sleeping worker computed its timeout from the old earliest deadline: re-arm one.
  if (earliest_changed) WakeOne(/*force=*/true);
  return handle;
}

Schedulable* WorkStealingScheduler::NextLocal(Worker& w) {
  ++w.tick;
  if (take_over_ && (w.tick & 7) == 0) w.active_ns.store(NowNs(), std::memory_order_relaxed);
  if (w.tick % options_.injection_interval != 0 && w.parker->WantsPoll()) {
    w.parker->Poll();  // e.g. sends waiting on io_uring: keep a busy worker's output flowing
  }
  if (w.tick % options_.injection_interval == 0) {
    FireTimers(w);
    w.parker->Poll();
    PollSources(w, /*idle=*/false);
    SpillIfOverloaded(w);
    TakeOverStalled(w);
    if (Schedulable* s = injection_.Pop()) {
      w.injected.Add();
      return s;
    }
  }
  if (w.lifo != nullptr) {
    if (w.lifo_streak < options_.max_lifo_streak || w.queue.Size() == 0) {
      Schedulable* s = w.lifo;
      w.lifo = nullptr;
      ++w.lifo_streak;
      w.lifo_turns.Add();
      return s;
    }
    // Fairness: the LIFO chain has had its turns; let the queued work run.
    Schedulable* s = w.lifo;
    w.lifo = nullptr;
    PushLocal(w, s);
  }
  w.lifo_streak = 0;
  // The stealable and the homed queue take turns at going first.
  if (w.tick & 1) {
    if (Schedulable* s = PopHomed(w)) return s;
    if (Schedulable* s = w.queue.Pop()) return s;
  } else {
    if (Schedulable* s = w.queue.Pop()) return s;
    if (Schedulable* s = PopHomed(w)) return s;
  }
  if (Schedulable* s = injection_.Pop()) {
    w.injected.Add();
    return s;
  }
  return nullptr;
}

Schedulable* WorkStealingScheduler::PopHomed(Worker& w) {
  if (!LockHomed(w)) return nullptr;  // being taken over
  Schedulable* s = TakeHomed(w);
  UnlockHomed(w);
  return s;
}

Schedulable* WorkStealingScheduler::TakeHomed(Worker& w) {
  if (!w.inbox.Empty()) {
    const absl::Time now = clock_->Now();
    for (Schedulable* s = w.inbox.TakeAll(); s != nullptr;) {
      Schedulable* next = s->next_scheduled;
      s->next_scheduled = nullptr;
      w.homed.push_back({s, now});
      s = next;
    }
  }
  if (w.homed.empty()) return nullptr;
  Schedulable* s = w.homed.front().s;
  w.homed.pop_front();
  return s;
}

void WorkStealingScheduler::SpillIfOverloaded(Worker& w) {
  if (workers_.size() == 1 || !LockHomed(w)) return;
  if (w.homed.empty() || clock_->Now() - w.homed.front().since < options_.home_max_wait) {
    UnlockHomed(w);
    return;
  }
  // Overloaded: the oldest half becomes stealable (their I/O still runs here, handed back).
  for (size_t n = (w.homed.size() + 1) / 2; n > 0; --n) {
    Schedulable* s = w.homed.front().s;
    w.homed.pop_front();
    if (Schedulable* overflow = w.queue.Push(s)) {
      injection_.PushChain(overflow);
      w.overflows.Add();
    }
    w.spilled.Add();
  }
  UnlockHomed(w);
  WakeOne();
}

Schedulable* WorkStealingScheduler::Search(Worker& w) {
  if (!w.searching) {
    if (!idle_.TryStartSearching()) return nullptr;
    w.searching = true;
  }
  const int n = static_cast<int>(workers_.size());
  const int start = static_cast<int>(w.NextRandom() % n);
  for (int i = 0; i < n; ++i) {
    Worker& victim = *workers_[(start + i) % n];
    if (&victim == &w) continue;
    const uint32_t before = w.queue.Size();
    if (Schedulable* s = victim.queue.StealInto(w.queue)) {
      w.steals.Add();
      w.stolen.Add(w.queue.Size() - before + 1);
      return s;
    }
  }
  if (Schedulable* s = injection_.Pop()) {
    w.injected.Add();
    return s;
  }
  return nullptr;
}

void WorkStealingScheduler::RunTurn(Worker& w, Schedulable* s) {
  if (w.searching) {
    w.searching = false;
    // The last searcher found work: wake another so searching continues while work remains
    // (what it stole beyond this one, the injection queue, others' queues). Work that came
    // from its own sources or I/O with nothing else visible wakes nobody.
    if (idle_.StopSearching() && AnyWorkVisible()) WakeOne();
  }
  const TurnMonitor::Turn turn = monitor_.BeginTurn(*w.monitor, s);
  const RunOutcome outcome = s->Run(options_.budget);
  monitor_.EndTurn(*w.monitor, turn);  // `s` may be gone (kDone)
  if (outcome == RunOutcome::kYield) PushLocal(w, s);
}

bool WorkStealingScheduler::FireTimers(Worker& w) {
  if (timers_.NextDeadline() > clock_->Now()) return false;
  const int fired = timers_.FireDue(clock_->Now());
  w.timers_fired.Add(fired);
  return fired > 0;
}

bool WorkStealingScheduler::AnyWorkVisible() const {
  if (!injection_.Empty()) return true;
  for (const auto& w : workers_) {
    if (w->queue.Size() > 0) return true;
  }
  return false;
}

bool WorkStealingScheduler::SpinForWork(Worker& w) {
  if (options_.spin_before_park <= absl::ZeroDuration() || workers_.size() == 1 ||
      !w.parker->SpinBeforePark() || !SourcesLetSpin(w)) {
    return false;
  }
  const absl::Time until = clock_->Now() + options_.spin_before_park;
  for (int round = 1;; ++round) {
    for (int i = 0; i < 32; ++i) CpuRelax();
    if (AnyWorkVisible() || w.lifo != nullptr || !w.inbox.Empty()) return true;
    if (shutdown_.load(std::memory_order_relaxed)) return true;
    if (round % 8 == 0 && w.parker->Poll()) return true;
    if (clock_->Now() >= until) return false;
  }
}

bool WorkStealingScheduler::Stalled(const Worker& w, const Worker& v) const {
  // Parked: its I/O wakes it. No I/O others may drive (no sockets, io_uring): nothing to do.
  return &v != &w && !v.parked.load(std::memory_order_acquire) && v.parker->CanBeTakenOver() &&
         NowNs() - v.active_ns.load(std::memory_order_relaxed) >= take_over_after_ns_;
}

bool WorkStealingScheduler::AnyStalled(const Worker& w) const {
  for (const auto& v : workers_) {
    if (Stalled(w, *v)) return true;
  }
  return false;
}

void WorkStealingScheduler::OnLongTurn(int worker) {
  // The watchdog saw `worker` in one turn for a whole period: a helper that sleeps without
  // sockets of its own to wake it would never look. Wake one: it takes over before it parks,
  // or (one backend for all) it parks in the backend's wait that nobody else may be in.
  if (!started_.load(std::memory_order_acquire)) return;
  Worker& stuck = *workers_[worker];
  // Or work queued behind that turn, which may have woken nobody (wake_cost).
  if (!stuck.parker->SharesIo() && !(take_over_ && stuck.parker->CanBeTakenOver()) &&
      stuck.queue.Size() == 0) {
    return;
  }
  for (auto& v : workers_) {
    if (v.get() != &stuck && v->parked.load(std::memory_order_acquire)) {
      v->parker->Unpark();
      return;
    }
  }
}

bool WorkStealingScheduler::TakeOverStalled(Worker& w) {
  if (!take_over_) return false;
  bool ran = false;
  for (auto& other : workers_) {
    Worker& v = *other;
    if (!Stalled(w, v)) continue;
    // Both try-locks (taken in this order, released in reverse): its homed queue's, which it
    // holds only for a push or a pop (unless preempted right there: then not this time), and
    // its backend's hold.
    if (!LockHomed(v)) continue;
    if (v.parker->TryTakeOver()) {
      w.take_overs.Add();
      ran |= RunTakenOver(w, v) > 0;
      v.parker->HandBack();
    }
    UnlockHomed(v);
  }
  return ran;
}

int WorkStealingScheduler::RunTakenOver(Worker& w, Worker& stalled) {
  // Rounds of: deliver what its backend has (completions schedule its homed actors into its
  // inbox), then run what is in its homed queue (what its last poll made runnable) and inbox
  // here. Bounded, and ended as soon as it takes work again (it is back, and cannot poll its
  // own backend while we hold it). The caller holds the homed queue's lock and the backend.
  constexpr int kMaxRounds = 8;
  const int64_t active = stalled.active_ns.load(std::memory_order_relaxed);
  int turns = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    const int delivered = stalled.parker->PollTakenOver();
    const int before = turns;
    // What is runnable there now; what these turns make runnable there reaches its inbox.
    for (size_t n = stalled.homed.size() + stalled.inbox.Size(); n > 0; --n) {
      Schedulable* s = TakeHomed(stalled);
      if (s == nullptr) break;
      RunTurn(w, s);  // one that yields goes back to its home's inbox: the next round's
      ++turns;
    }
    if (turns == before && delivered == 0) break;
    if (stalled.active_ns.load(std::memory_order_relaxed) != active) break;
  }
  w.taken_over_turns.Add(turns);
  return turns;
}

void WorkStealingScheduler::Park(Worker& w) {
  const bool was_searching = w.searching;
  w.searching = false;
  if (idle_.Park(w.index, was_searching)) {
    // We were the last searcher: work published while we were giving up must not strand.
    // (IdleSet::Park's read-modify-write orders this re-check after our registration.)
    if (AnyWorkVisible()) WakeOne();
  }
  if (!shutdown_.load(std::memory_order_acquire)) {
    const absl::Time next = timers_.NextDeadline();
    absl::Duration timeout = absl::InfiniteDuration();
    if (next != absl::InfiniteFuture())
      timeout = std::max(next - clock_->Now(), absl::ZeroDuration());
    // While another worker is stalled, come back to help it (only then: a bound on every park
    // while another worker is merely awake cost 7-14% of echo's throughput).
    if (take_over_ && AnyStalled(w)) timeout = std::min(timeout, options_.take_over_after);
    if (SourcesLetPark(w)) {
      w.parks.Add();
      w.parked.store(true, std::memory_order_release);
      w.parker->Park(timeout);
      if (take_over_) w.active_ns.store(NowNs(), std::memory_order_relaxed);
      w.parked.store(false, std::memory_order_release);
      SourcesResumed(w);
    }
  }
  w.searching = idle_.Unparked(w.index);
}

void WorkStealingScheduler::WorkerLoop(Worker& w) {
  tls_scheduler = this;
  tls_worker = &w;
  if (monitor_.enabled()) {
    SetCurrentTurnActivity(monitor_.activity(w.index));
    monitor_.SetWorkerThread(w.index);
  }
  w.parker->OnWorkerStart();
  w.active_ns.store(NowNs(), std::memory_order_relaxed);  // not stalled before its first look
  while (!shutdown_.load(std::memory_order_relaxed)) {
    Schedulable* s = NextLocal(w);
    if (s == nullptr) s = Search(w);
    if (s != nullptr) {
      RunTurn(w, s);
      continue;
    }
    if (w.parker->PollReady()) continue;
    if (FireTimers(w)) continue;
    if (PollSources(w, /*idle=*/true)) continue;
    if (SpinForWork(w)) continue;
    if (TakeOverStalled(w)) continue;
    Park(w);
  }
  if (w.searching) {
    w.searching = false;
    idle_.StopSearching();
  }
  w.parker->OnWorkerStop();
  tls_scheduler = nullptr;
  tls_worker = nullptr;
}

template <typename F>
void WorkStealingScheduler::ForEachSource(Worker& w, F f) {
  // Flag first, then the list (both seq_cst): a RemoveWorkerSource that sees the flag clear
  // knows this worker will read its new list (RemoveWorkerSource).
  w.in_sources.store(true, std::memory_order_seq_cst);
  if (const std::vector<WorkerSource*>* list = sources_.load(std::memory_order_seq_cst)) {
    for (WorkerSource* source : *list) f(*source);
  }
  w.in_sources.store(false, std::memory_order_release);
}

bool WorkStealingScheduler::PollSources(Worker& w, bool idle) {
  if (sources_.load(std::memory_order_relaxed) == nullptr) return false;  // none: no cost
  bool any = false;
  // What the sources' events make runnable runs next here (the LIFO slot), as if a turn had
  // sent it: a call's actor then answers on the thread that polls the call's queue.
  w.in_source_poll = true;
  ForEachSource(w, [&](WorkerSource& source) { any |= source.Poll(w.index, idle); });
  w.in_source_poll = false;
  return any;
}

bool WorkStealingScheduler::SourcesLetSpin(Worker& w) {
  if (sources_.load(std::memory_order_relaxed) == nullptr) return true;
  bool spin = true;
  ForEachSource(w, [&](WorkerSource& source) { spin &= source.SpinBeforePark(w.index); });
  return spin;
}

bool WorkStealingScheduler::SourcesLetPark(Worker& w) {
  if (sources_.load(std::memory_order_relaxed) == nullptr) return true;
  w.in_sources.store(true, std::memory_order_seq_cst);  // held until SourcesResumed
  const std::vector<WorkerSource*>* list = sources_.load(std::memory_order_seq_cst);
  w.parked_with = list;
  if (list == nullptr) return true;
  for (size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i]->Parking(w.index)) {  // work waits there: undo the ones told, do not park
      for (size_t j = 0; j < i; ++j) (*list)[j]->Resumed(w.index);
      w.parked_with = nullptr;
      w.in_sources.store(false, std::memory_order_release);
      return false;
    }
  }
  return true;
}

void WorkStealingScheduler::SourcesResumed(Worker& w) {
  if (!w.in_sources.load(std::memory_order_relaxed)) return;
  if (w.parked_with != nullptr) {
    for (WorkerSource* source : *w.parked_with) source->Resumed(w.index);
    w.parked_with = nullptr;
  }
  w.in_sources.store(false, std::memory_order_release);
}

bool WorkStealingScheduler::AddWorkerSource(WorkerSource* source) {
  MutexLock lock(&sources_mu_);
  const std::vector<WorkerSource*>* current = sources_.load(std::memory_order_relaxed);
  auto next = std::make_unique<std::vector<WorkerSource*>>(
      current != nullptr ? *current : std::vector<WorkerSource*>{});
  next->push_back(source);
  sources_.store(next.get(), std::memory_order_seq_cst);
  lists_.push_back(std::move(next));  // lists stay alive: a worker may still be reading one
  // Parked workers have not told the new source they sleep: wake them to poll it.
  for (auto& w : workers_) w->parker->Unpark();
  return true;
}

void WorkStealingScheduler::RemoveWorkerSource(WorkerSource* source) {
  {
    MutexLock lock(&sources_mu_);
    const std::vector<WorkerSource*>* current = sources_.load(std::memory_order_relaxed);
    if (current == nullptr) return;
    auto next = std::make_unique<std::vector<WorkerSource*>>();
    for (WorkerSource* s : *current) {
      if (s != source) next->push_back(s);
    }
    sources_.store(next->empty() ? nullptr : next.get(), std::memory_order_seq_cst);
    lists_.push_back(std::move(next));
  }
  // A worker that set its flag before our store may still use the old list (parked with it
  // told, perhaps): wake it and wait until it is done.
  for (auto& w : workers_) {
    while (w->in_sources.load(std::memory_order_seq_cst)) {
      w->parker->Unpark();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void WorkStealingScheduler::WakeWorker(int w) {
  if (w >= 0 && w < static_cast<int>(workers_.size())) workers_[w]->parker->Unpark();
}

void WorkStealingScheduler::Shutdown() {
  if (joined_.exchange(true)) return;
  shutdown_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->parker->Unpark();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  timers_.Clear();
}

void WorkStealingScheduler::RunUntil(const std::function<bool()>& done) {
  absl::Duration backoff = absl::Microseconds(20);
  absl::Time next_warning = clock_->Now() + absl::Seconds(5);
  while (!done()) {
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(2));
    if (clock_->Now() >= next_warning) {
      Log(absl::LogSeverity::kWarning, "still waiting for actors to stop (a handler may be blocked)");
      next_warning = clock_->Now() + absl::Seconds(5);
    }
  }
}

void WorkStealingScheduler::CollectMetrics(metrics::Collection& out) const {
  monitor_.Collect(out);
  for (const auto& w : workers_) {
    const metrics::Collection::Labels worker = {{"worker", absl::StrCat(w->index)}};
    out.Counter("troupe_worker_turns_total", "Turns each worker ran.", worker,
                static_cast<double>(TurnMonitor::TurnsRun(*w->monitor)));
    out.Counter("troupe_worker_steals_total", "Successful steals by each worker.", worker,
                static_cast<double>(w->steals.Get()));
    out.Counter("troupe_worker_parks_total", "Times each worker went to sleep.", worker,
                static_cast<double>(w->parks.Get()));
    out.Gauge("troupe_worker_run_queue_depth", "Runnable work in each worker's stealable queue.",
              worker, static_cast<double>(w->queue.Size()));
  }
  out.Gauge("troupe_injection_queue_depth", "Runnable work waiting in the shared injection queue.",
            {}, static_cast<double>(injection_.Size()));
}

SchedulerStats WorkStealingScheduler::stats() const {
  SchedulerStats s;
  for (const auto& w : workers_) {
    s.turns += TurnMonitor::TurnsRun(*w->monitor);
    s.lifo_turns += w->lifo_turns.Get();
    s.steals += w->steals.Get();
    s.stolen += w->stolen.Get();
    s.injected += w->injected.Get();
    s.overflows += w->overflows.Get();
    s.parks += w->parks.Get();
    s.timers_fired += w->timers_fired.Get();
    s.sent_home += w->sent_home.Get();
    s.spilled += w->spilled.Get();
    s.take_overs += w->take_overs.Get();
    s.taken_over_turns += w->taken_over_turns.Get();
  }
  return s;
}

}  // namespace troupe
