#include "io/io_service.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/base/futex.h"
#include "framework/log/log.h"

namespace troupe {
namespace {

// Actors have stopped and closed their sockets: deliver the last completions (kClose
// releases each connection's state) before the thread that drives the backend exits.
// `may_wait`: this thread may wait in the backend's kernel wait for them. Not on a reactor the
// workers share, whose wait is the seat's (SharedBackendParker): a wait there would consume a
// Wake() meant for the worker in the seat, which would then sleep on in it (a shutdown that
// never joined, metrics_server_test under TSan); there it polls, and sleeps between polls.
void DeliverLastCompletions(IoBackend& backend, bool may_wait) {
  constexpr absl::Duration kQuiet = absl::Milliseconds(1);
  int quiet = 0;
  for (int i = 0; i < 100 && quiet < 2; ++i) {
    int handled;
    {
      IoBackend::Hold hold(backend);
      if (!hold) {  // another worker is delivering them
        std::this_thread::yield();
        continue;
      }
      handled = backend.Poll(may_wait ? kQuiet : absl::ZeroDuration());
    }
    quiet = handled == 0 ? quiet + 1 : 0;
    if (handled == 0 && !may_wait) absl::SleepFor(kQuiet);
  }
}

// A poll between turns, by the thread driving the backend: the kernel is asked only if the
// backend has sockets; a pure message workload pays no syscall here (one per 61 turns
// measurably slowed `ring`).
bool PollBetweenTurns(IoBackend& backend) {
  if (backend.open_fds() == 0) return backend.PollReady() > 0;
  return backend.Poll(absl::ZeroDuration()) > 0;
}

// Sleeps in an IoBackend: one wait covers sockets, timers (the timeout) and new actor work
// (Unpark = the backend's Wake, an eventfd write only when the worker is really asleep).
class BackendParker final : public Parker {
 public:
  explicit BackendParker(IoBackend* backend) : backend_(backend) {}

  void OnWorkerStart() override { backend_->BindToCurrentThread(); }
  // Each of these drives the backend only if this worker has the hold: another worker that
  // took its I/O over (TryTakeOver) has it until HandBack, and the park returns at once then.
  // (A backend that is not shareable is this worker's alone: no hold to take, not even the
  // check, which Savina's pingpong measured.)
  void Park(absl::Duration timeout) override {
    if (!backend_->shareable()) {
      backend_->Poll(timeout);
      return;
    }
    IoBackend::Hold hold(*backend_);
    if (!hold) {
      std::this_thread::yield();  // the taker hands back within one bounded round
      return;
    }
    backend_->Poll(timeout);
  }
  void Unpark() override { backend_->Wake(); }
  bool Poll() override {
    if (!backend_->shareable()) return PollBetweenTurns(*backend_);
    IoBackend::Hold hold(*backend_);
    return hold && PollBetweenTurns(*backend_);
  }
  bool PollReady() override {
    if (!backend_->shareable()) return backend_->PollReady() > 0;
    IoBackend::Hold hold(*backend_);
    return hold && backend_->PollReady() > 0;
  }
  bool WantsPoll() override { return backend_->WantsPoll(); }
  // Spinning pays for pure message passing (no futex wake between workers) but not for a
  // worker with sockets: bench/echo_compare's 2-thread rows (spin: 1.3x the CPU per round trip).
  bool SpinBeforePark() override { return backend_->open_fds() == 0; }

  bool TryTakeOver() override { return CanBeTakenOver() && backend_->TryHold(); }
  bool CanBeTakenOver() override { return backend_->shareable() && backend_->open_fds() > 0; }
  bool MayBeTakenOver() const override { return backend_->shareable(); }
  int PollTakenOver() override { return backend_->Poll(absl::ZeroDuration()); }
  void HandBack() override { backend_->Release(); }

  void OnWorkerStop() override { DeliverLastCompletions(*backend_, /*may_wait=*/true); }

 private:
  IoBackend* const backend_;
};

// Sleeps for one of the workers that share one backend (IoService's shared reactor). One of
// them at a time waits in the backend's kernel wait (the seat); the others sleep on a futex,
// woken by the scheduler like FutexParker's. Unpark wakes the worker wherever it sleeps.
class SharedBackendParker final : public Parker {
 public:
  SharedBackendParker(IoBackend* backend, std::atomic<bool>* seat)
      : backend_(backend), seat_(seat) {}

  void OnWorkerStart() override { backend_->BindToCurrentThread(); }
  void Park(absl::Duration timeout) override {
    uint32_t expected = kNotified;
    if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return;
    if (timeout <= absl::ZeroDuration()) return;
    if (!seat_->exchange(true, std::memory_order_acq_rel)) {
      expected = kEmpty;
      if (state_.compare_exchange_strong(expected, kInBackend, std::memory_order_acq_rel)) {
        // The backend lets the hold go during its kernel wait.
        backend_->TakeHold();
        backend_->Poll(timeout);
        backend_->Release();
      }
      state_.exchange(kEmpty, std::memory_order_acquire);  // a notification is consumed
      seat_->store(false, std::memory_order_release);
      return;
    }
    // Another worker waits in the backend: its completions wake us through the scheduler.
    FutexPark(&state_, kEmpty, kOnFutex, timeout);
  }
  void Unpark() override {
    const uint32_t was = state_.exchange(kNotified, std::memory_order_acq_rel);
    if (was == kInBackend) {
      backend_->Wake();
    } else if (was == kOnFutex) {
      FutexWakeOne(&state_);
    }
  }
  bool Poll() override {
    IoBackend::Hold hold(*backend_);
    return hold && PollBetweenTurns(*backend_);
  }
  bool PollReady() override {
    IoBackend::Hold hold(*backend_);
    return hold && backend_->PollReady() > 0;
  }
  bool WantsPoll() override { return backend_->WantsPoll(); }
  bool SpinBeforePark() override { return backend_->open_fds() == 0; }
  bool SharesIo() const override { return true; }
  void OnWorkerStop() override { DeliverLastCompletions(*backend_, /*may_wait=*/false); }

 private:
  enum : uint32_t { kEmpty = 0, kOnFutex = 1, kInBackend = 2, kNotified = 3 };
  IoBackend* const backend_;
  std::atomic<bool>* const seat_;
  std::atomic<uint32_t> state_{kEmpty};
};

// `auto` with several workers: epoll's shared reactor, not a ring per worker (whose sockets
// wait for their own worker: bench/echo_compare measured io_uring's 2-worker p99 at 2-3x
// Asio's, the shared reactor's at or under it). With one worker: io_uring where it works.
bool SharedReactorForAuto(const IoBackendOptions& options, int workers) {
  if (options.kind != IoBackendKind::kAuto || workers <= 1 || !options.shared_reactor) {
    return false;
  }
  static std::atomic<bool> logged{false};  // once per process, as ResolveIoBackendKind's
  if (options.log_choice && !logged.exchange(true)) {
    Log(absl::LogSeverity::kInfo, "I/O backend epoll, one reactor for every worker (auto)",
        {{"workers", absl::StrCat(workers)}});
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<IoService>> IoService::Create(const IoBackendOptions& options,
                                                             int workers) {
  std::vector<std::unique_ptr<IoBackend>> backends;
  if (options.factory) {
    for (int i = 0; i < workers; ++i) {
      auto backend = options.factory(i);
      if (!backend.ok()) return backend.status();
      backends.push_back(std::move(*backend));
    }
    return std::unique_ptr<IoService>(new IoService(std::move(backends), /*shared=*/false));
  }
  absl::StatusOr<IoBackendKind> kind = SharedReactorForAuto(options, workers)
                                          ? IoBackendKind::kEpoll
                                          : ResolveIoBackendKind(options);
  if (!kind.ok()) return kind.status();
  const bool shared = workers > 1 && *kind == IoBackendKind::kEpoll && options.shared_reactor;
  for (int i = 0; i < (shared ? 1 : workers); ++i) {
    auto backend = MakeIoBackend(*kind, options);
    if (!backend.ok()) return backend.status();
    // With one worker nobody else could take the hold: it would only cost a compare-and-swap
    // per operation.
    if (workers == 1) (*backend)->KeepToHomeThread();
    backends.push_back(std::move(*backend));
  }
  return std::unique_ptr<IoService>(new IoService(std::move(backends), shared));
}

std::unique_ptr<Parker> IoService::MakeParker(int worker) {
  if (shared()) return std::make_unique<SharedBackendParker>(backends_[0].get(), &seat_);
  return std::make_unique<BackendParker>(backends_.at(worker).get());
}

IoBackend& IoService::BackendForNewSocket() {
  if (IoBackend* current = IoBackend::Current()) {
    for (const auto& b : backends_) {
      if (b.get() == current) return *current;
    }
  }
  const uint32_t i = next_.fetch_add(1, std::memory_order_relaxed) % backends_.size();
  return *backends_[i];
}

void IoService::RunOn(IoBackend& backend, absl::AnyInvocable<void()> fn) {
  if (!backend.RunIfHeld(fn)) backend.Post(std::move(fn));
}

IoBackendStats IoService::stats() const {
  IoBackendStats total;
  for (const auto& b : backends_) {
    const IoBackendStats s = b->stats();
    total.polls += s.polls;
    total.waits += s.waits;
    total.syscalls += s.syscalls;
    total.completions += s.completions;
    total.errors += s.errors;
    total.posted += s.posted;
    total.sent_now += s.sent_now;
  }
  return total;
}

}  // namespace troupe
