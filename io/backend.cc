#include "io/backend.h"

#include <unistd.h>

#include <utility>

#include "framework/base/cpu_relax.h"

namespace troupe {
namespace {
thread_local IoBackend* tls_current = nullptr;
}  // namespace

void IoBackend::BindToCurrentThread() {
  home_.store(std::this_thread::get_id(), std::memory_order_release);
  tls_current = this;
}

IoBackend* IoBackend::Current() { return tls_current; }

void IoBackend::Discard(int fd) { ::close(fd); }

void IoBackend::Post(absl::AnyInvocable<void()> fn) {
  {
    MutexLock lock(&posted_mu_);
    posted_.push_back(std::move(fn));
    posted_count_.store(posted_count_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    has_posted_.store(true, std::memory_order_release);
  }
  Wake();
}

int IoBackend::RunPosted() {
  if (!has_posted_.load(std::memory_order_acquire)) return 0;
  std::vector<absl::AnyInvocable<void()>> batch;
  {
    MutexLock lock(&posted_mu_);
    batch.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : batch) fn();
  return static_cast<int>(batch.size());
}

int IoBackend::DeliverDeferred() {
  // A handler that ends up here again (delivering_ is non-empty only during a delivery)
  // delivers nothing: what it deferred waits for the next call.
  if (deferred_.empty() || !delivering_.empty()) return 0;
  // Completions deferred meanwhile go to the emptied vector of the last call (both keep their
  // capacity: no allocation per completion).
  delivering_.swap(deferred_);
  int delivered = 0;
  for (const Deferred& d : delivering_) {
    if (!DeferredStillWanted(d)) continue;
    Count(completions_);
    d.handler->OnCompletion(d.fd, d.completion);
    ++delivered;
  }
  delivering_.clear();
  return delivered;
}

void IoBackend::TakeHold() {
  for (int spins = 0; !TryHold(); ++spins) {
    if (spins < 64) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
}

IoBackendStats IoBackend::stats() const {
  IoBackendStats s;
  s.polls = polls_.load(std::memory_order_relaxed);
  s.waits = waits_.load(std::memory_order_relaxed);
  s.syscalls = syscalls_.load(std::memory_order_relaxed);
  s.completions = completions_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.posted = posted_count_.load(std::memory_order_relaxed);
  s.sent_now = sent_now_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace troupe
