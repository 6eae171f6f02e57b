// WorkerQueues: gRPC server completion queues driven by troupe's workers - worker w polls queue
// w % size() in its own loop (a WorkerSource), so that a call's events, the actor turns they
// cause and the replies run on the threads that poll, with no hop to or from gRPC's threads (the
// async API: a thread that polls a queue does the call's reads and writes itself).
//
// A queue polled by several workers (fewer queues than workers, the gateway's default) is served
// by whichever of them looks first, as an async gRPC server's threads share one queue: the
// calls of one client connection spread over both cores of a 2-core machine, and while one
// worker is busy with a long turn the others go on serving the queue. Its calls then have no
// home worker (sole_worker): their events can come on any of its workers, so the code behind a
// tag must allow that (the gateway serializes a call's events with a lock of the call's own).
//
// Parking: a thread cannot wait on a completion queue and on epoll/io_uring at once (a queue
// has no descriptor). When every worker of a queue sleeps in its I/O backend - or some do and
// the others have not polled the queue for 10 ms (a long turn) - the queue's standby thread
// waits in it (cq->Next): each event it gets goes to the inbox of a sleeping worker, which it
// wakes. A worker that wakes for something else takes the queue back with a grpc::Alarm (the
// standby leaves Next; if an awake worker polls the alarm first, the standby leaves at its
// next event, handing that one to a worker's inbox). So busy workers poll their queue
// themselves (no thread wakes; the standby of a shared queue looks at the clock every 10 ms),
// an idle system has every thread asleep (no polling), and the cost of an idle-to-busy edge is
// one thread wake, as with gRPC's own threads. Between turns an empty queue is looked into
// less and less often (every 1 to 16 polls: each look is an epoll_wait); a worker about to
// park always looks.
//
// Tags: everything put on these queues is a WorkerQueueTag; its Proceed(ok) runs on one of the
// queue's workers (or, during Shutdown, on the thread calling it). A tag's owner starts
// operations on the queues only inside an OpGuard (so none starts once Shutdown has closed
// them) and requests new calls only while accepting().
//
// Lifecycle: make the queues with ServerBuilder::AddCompletionQueue (one to one a worker at
// most) before BuildAndStart, Start() once the server runs; at the end server->Shutdown() first,
// then Shutdown() here: it stops the workers polling, wakes and joins the standbys, then polls
// the queues itself until the owner says its calls are over (`calls_over`, or `patience`
// passed), and only then closes the queues and drains them, running Proceed(false) for what was
// left. So calls still ending finish on open queues; and on a server with interceptors a call's
// done notification posts itself to its queue again after them, which aborts the process if
// that queue has been shut down (seen in remote_node_test while the gateway still installed one).
//
// Thread safety: Start, Shutdown and the destructor from one thread that is not a worker;
// OpGuard, accepting(), queue() and sole_worker() from any thread; the WorkerSource methods as
// worker_source.h says.
#ifndef ACTORS_GRPC_WORKER_QUEUES_H_
#define ACTORS_GRPC_WORKER_QUEUES_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "framework/scheduler/scheduler.h"
#include "framework/scheduler/worker_source.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

class WorkerQueueTag {
 public:
  // The operation this tag was given to finished (`ok` as gRPC reports it).
  virtual void Proceed(bool ok) = 0;

 protected:
  ~WorkerQueueTag() = default;
};

struct WorkerQueueStats {
  uint64_t polled = 0;       // events a worker took from its queue itself
  uint64_t handed_over = 0;  // events the standby took while its worker slept
  uint64_t reclaims = 0;     // alarms that called a standby off (its worker woke for else)
};

class WorkerQueues final : public WorkerSource {
 public:
  // Worker w polls `queues[w % queues.size()]` (one queue to as many as the scheduler has
  // workers).
  WorkerQueues(Scheduler& scheduler,
               std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues);
  ~WorkerQueues() override;
  WorkerQueues(const WorkerQueues&) = delete;
  WorkerQueues& operator=(const WorkerQueues&) = delete;

  int size() const { return static_cast<int>(queues_.size()); }
  grpc::ServerCompletionQueue* queue(int i) const;
  // The one worker that polls queue i (its calls' events all run there: a home for their
  // actors), or -1 if several do.
  int sole_worker(int i) const;

  // The workers start polling. FAILED_PRECONDITION if the scheduler has no worker threads, or
  // no queue, or more queues than workers.
  absl::Status Start();
  void Shutdown(const std::function<bool()>& calls_over = nullptr,
                absl::Duration patience = absl::Seconds(5));

  // False once Shutdown has begun: a tag's owner then requests no new calls.
  bool accepting() const { return accepting_.load(std::memory_order_acquire); }
  WorkerQueueStats stats() const;  // summed over the queues

  // Held while starting an operation on a queue (a Write, Finish, a new RequestCall): false
  // (start nothing) once Shutdown has closed the queues.
  class OpGuard {
   public:
    explicit OpGuard(WorkerQueues& queues);
    ~OpGuard();
    OpGuard(const OpGuard&) = delete;
    OpGuard& operator=(const OpGuard&) = delete;
    explicit operator bool() const { return open_; }

   private:
    WorkerQueues& queues_;
    bool open_;
  };

  // WorkerSource.
  bool Poll(int w, bool idle) override;
  bool Parking(int w) override;
  void Resumed(int w) override;
  // Every worker polls a queue, and what arrives there reaches it parked (the standby).
  bool SpinBeforePark(int /*w*/) override { return false; }

 private:
  struct Queue;
  struct Poller;
  class ReclaimTag;
  void Standby(Queue& q);
  static void DrainInbox(Poller& p);

  Scheduler& scheduler_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::unique_ptr<Poller>> pollers_;  // worker w's is pollers_[w]
  bool started_ = false;
  bool shut_down_ = false;
  std::atomic<bool> accepting_{true};
  std::atomic<bool> closed_{false};
  std::atomic<int> ops_starting_{0};
};

}  // namespace troupe

#endif  // ACTORS_GRPC_WORKER_QUEUES_H_
