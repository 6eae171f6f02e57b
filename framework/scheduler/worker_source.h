// WorkerSource: work a scheduler's workers find outside its queues - in practice a gRPC
// completion queue per worker (actors/grpc/worker_queues.h) - polled by each worker in its own
// loop, so that what arrives there and the actor turns it causes run on one thread.
//
// A worker w calls Poll(w, false) every few turns and Poll(w, true) whenever it runs out of
// turns (then a source should look everywhere: the worker parks next); before it parks it
// calls Parking(w) (false: something is waiting, do not park), and after it wakes Resumed(w).
// What a Poll makes runnable runs next on that worker, as what a turn sends does.
// Between Parking(w) and Resumed(w) the source must keep watch itself and wake the worker
// (Scheduler::WakeWorker) when something arrives for it: a worker parks in its I/O backend, not
// in the source.
//
// Thread safety: Poll(w), Parking(w) and Resumed(w) on worker w's thread only; different
// workers call concurrently. The source must stay alive until RemoveWorkerSource returns.
#ifndef FRAMEWORK_SCHEDULER_WORKER_SOURCE_H_
#define FRAMEWORK_SCHEDULER_WORKER_SOURCE_H_

namespace troupe {

class WorkerSource {
 public:
  virtual ~WorkerSource() = default;
  // Handles what is ready for worker `w` without blocking; true if that did anything. `idle`:
  // the worker has nothing else to run (else it polls between turns, and a source may keep an
  // expensive look for later).
  virtual bool Poll(int w, bool idle) = 0;
  // Worker `w` is about to park: from now until Resumed(w) the source wakes it when something
  // arrives. False if something is already waiting (the worker polls instead of parking).
  virtual bool Parking(int w) = 0;
  virtual void Resumed(int w) = 0;
  // False: worker `w` should not spin looking for work before it parks. What this source brings
  // it reaches it parked (the source watches from Parking on), while a spinning worker would
  // not see it until the spin ends.
  virtual bool SpinBeforePark(int /*w*/) { return true; }
};

}  // namespace troupe

#endif  // FRAMEWORK_SCHEDULER_WORKER_SOURCE_H_
