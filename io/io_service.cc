#include "io/io_service.h"

#include <thread>
#include <utility>

namespace troupe {
namespace {

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
  // Between turns: the kernel is asked only if this worker's backend has sockets; a pure
  // message workload pays no syscall here (one per 61 turns measurably slowed `ring`).
  bool Poll() override {
    if (!backend_->shareable()) return PollHeld();
    IoBackend::Hold hold(*backend_);
    return hold && PollHeld();
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

  // Actors have stopped and closed their sockets: deliver the last completions (kClose
  // releases each connection's state) before the thread that owns the backend exits.
  void OnWorkerStop() override {
    int quiet = 0;
    for (int i = 0; i < 100 && quiet < 2; ++i) {
      IoBackend::Hold hold(*backend_);
      if (!hold) {  // another worker is delivering them
        std::this_thread::yield();
        continue;
      }
      quiet = backend_->Poll(absl::Milliseconds(1)) == 0 ? quiet + 1 : 0;
    }
  }

 private:
  // Poll()'s work, by the thread driving the backend.
  bool PollHeld() {
    if (backend_->open_fds() == 0) return backend_->PollReady() > 0;
    return backend_->Poll(absl::ZeroDuration()) > 0;
  }

  IoBackend* const backend_;
};

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
    return std::unique_ptr<IoService>(new IoService(std::move(backends)));
  }
  absl::StatusOr<IoBackendKind> kind = ResolveIoBackendKind(options);
  if (!kind.ok()) return kind.status();
  for (int i = 0; i < workers; ++i) {
    auto backend = MakeIoBackend(*kind, options);
    if (!backend.ok()) return backend.status();
    // With one worker nobody else could take the hold: it would only cost a compare-and-swap
    // per operation.
    if (workers == 1) (*backend)->KeepToHomeThread();
    backends.push_back(std::move(*backend));
  }
  return std::unique_ptr<IoService>(new IoService(std::move(backends)));
}

std::unique_ptr<Parker> IoService::MakeParker(int worker) {
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
  IoBackend::Hold hold(backend);
  if (hold) {
    fn();
  } else {
    backend.Post(std::move(fn));
  }
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
  }
  return total;
}

}  // namespace troupe
