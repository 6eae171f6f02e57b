// Parker: how an idle worker sleeps and how other threads wake it.
//
// The scheduler depends only on this interface. The default FutexParker sleeps on a futex;
// io/io_service supplies a Parker that sleeps inside the worker's IoBackend wait (epoll_wait /
// io_uring) so that one wait covers both I/O readiness and new actor work.
//
// Contract: Unpark() before or during Park() makes that Park() (or the next one) return
// promptly; a wake-up is never lost. Park() may also return spuriously or at its timeout.
//
// Thread safety: Park() by the owning worker only; Unpark() from any thread.
#ifndef FRAMEWORK_BASE_PARKER_H_
#define FRAMEWORK_BASE_PARKER_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace troupe {

class Parker {
 public:
  virtual ~Parker() = default;
  // Sleeps until Unpark() or until `timeout` passes (absl::InfiniteDuration() for none).
  virtual void Park(absl::Duration timeout) = 0;
  virtual void Unpark() = 0;
  // Handles whatever is ready without sleeping (an I/O parker delivers ready completions);
  // returns true if that produced anything. Called by the owning worker between turns.
  virtual bool Poll() { return false; }
  // Like Poll() but never enters the kernel (delivers only what is already known); called
  // just before parking, whose own wait then polls the kernel.
  virtual bool PollReady() { return false; }
  // Cheap check (no syscall), made by the owning worker before each turn: true if Poll()
  // should run now rather than at the next periodic poll (e.g. I/O waits on the kernel).
  virtual bool WantsPoll() { return false; }
  // Cheap check by the owning worker before it spins for work: false if it should go straight
  // to Park() (an I/O parker with sockets: the kernel wait is woken by them, and the spin's CPU
  // is better left to whatever else needs the core).
  virtual bool SpinBeforePark() { return true; }
  // Taking over a stalled worker's I/O: another worker calls these on this worker's Parker
  // when this worker, awake, has not taken work for a while (preempted, or in a long turn).
  // TryTakeOver() is true if the caller now drives this worker's I/O: PollTakenOver() then
  // delivers what is ready there without blocking (returns how much it handled), and HandBack()
  // ends the take-over. False where that cannot be (no I/O, I/O that only its own thread may
  // drive, or the worker is driving it itself). Never blocks.
  virtual bool TryTakeOver() { return false; }
  // Cheap, any thread: false if TryTakeOver() cannot succeed now (no I/O that others may drive).
  virtual bool CanBeTakenOver() { return false; }
  // Whether TryTakeOver() can ever succeed (fixed for the Parker's life): with none that can,
  // the scheduler does no stall detection at all.
  virtual bool MayBeTakenOver() const { return false; }
  virtual int PollTakenOver() { return 0; }
  virtual void HandBack() {}
  // Whether every worker drives this worker's I/O (one backend for all, fixed for the
  // Parker's life): a worker in a long turn then needs another awake to serve the sockets,
  // which the scheduler's watchdog sees to.
  virtual bool SharesIo() const { return false; }
  // Called by the owning worker thread when it starts and just before it exits.
  virtual void OnWorkerStart() {}
  virtual void OnWorkerStop() {}
};

class FutexParker final : public Parker {
 public:
  void Park(absl::Duration timeout) override;
  void Unpark() override;

 private:
  enum : uint32_t { kEmpty = 0, kParked = 1, kNotified = 2 };
  std::atomic<uint32_t> state_{kEmpty};
};

}  // namespace troupe

#endif  // FRAMEWORK_BASE_PARKER_H_
