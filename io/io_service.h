// IoService: the I/O layer of one ActorSystem - its IoBackends and the Parkers that make each
// worker sleep inside a backend's wait. Either one epoll reactor for every worker (epoll with
// several workers and IoBackendOptions::shared_reactor: one idle worker at a time waits in it,
// the others on a futex) or one backend per worker (io_uring; epoll otherwise).
//
// No I/O thread: a worker with nothing to run waits in epoll_wait / io_uring_enter with the
// timeout of the next timer, and is woken there (eventfd) when actor work arrives for it.
// A socket belongs to the backend that registered it; its completions run on the thread that
// drives that backend - any worker (shared), its worker, or (epoll) another worker that took
// over a stalled one - and become messages to the owning actor: homed nowhere on the shared
// reactor, else on the backend's worker.
//
// Thread safety: all methods from any thread. Backends are owned here and outlive the
// scheduler's workers (the ActorSystem joins the workers before destroying this).
#ifndef IO_IO_SERVICE_H_
#define IO_IO_SERVICE_H_

#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "framework/base/parker.h"
#include "io/backend.h"
#include "io/backend_selector.h"

namespace troupe {

class IoService {
 public:
  // Resolves `options.kind` (probing io_uring for auto/uring) and creates `workers` backends,
  // or has `options.factory` make them. UNIMPLEMENTED for --backend=uring where io_uring is
  // unavailable (the message says why).
  static absl::StatusOr<std::unique_ptr<IoService>> Create(const IoBackendOptions& options,
                                                           int workers);

  std::string_view backend_name() const { return backends_[0]->name(); }  // "epoll", "io_uring"

  // Worker i's Parker: sleeps in backend i (binding it to the worker thread), or in the shared
  // reactor / on a futex.
  std::unique_ptr<Parker> MakeParker(int worker);

  // The backend a new socket should belong to: the calling worker's own, else (a foreign
  // thread) one chosen round-robin.
  IoBackend& BackendForNewSocket();

  // The next backend in round-robin order (spreads accepted connections over the workers).
  IoBackend& NextBackend() {
    return *backends_[next_.fetch_add(1, std::memory_order_relaxed) % backends_.size()];
  }

  // Runs `fn` driving `backend`: now if the caller holds it or can take the hold, else posted
  // to the thread that drives it.
  static void RunOn(IoBackend& backend, absl::AnyInvocable<void()> fn);

  IoBackendStats stats() const;  // summed over the backends

 private:
  // `shared`: one backend that every worker drives (homed nowhere); else one per worker.
  IoService(std::vector<std::unique_ptr<IoBackend>> backends, bool shared)
      : backends_(std::move(backends)) {
    for (size_t i = 0; i < backends_.size(); ++i) {
      backends_[i]->set_home_worker(shared ? IoBackend::kAnyWorker : static_cast<int>(i));
    }
  }

  std::vector<std::unique_ptr<IoBackend>> backends_;
  std::atomic<uint32_t> next_{0};
  // One backend driven by every worker (the shared reactor).
  bool shared() const { return backends_[0]->home_worker() == IoBackend::kAnyWorker; }

  std::atomic<bool> seat_{false};  // shared: a worker waits in the backend's kernel wait
};

}  // namespace troupe

#endif  // IO_IO_SERVICE_H_
