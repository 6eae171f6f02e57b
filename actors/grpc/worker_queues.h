// WorkerQueues: gRPC server completion queues driven by troupe's workers - queue i a
// grpc::ServerCompletionQueue polled by worker i in its own loop (a WorkerSource; workers past
// the last queue poll none), so that a call's events, the actor turns they cause and the
// replies all run on one thread, with no hop to or from gRPC's threads (the async API: a thread
// that polls a queue does the call's reads and writes itself).
//
// Parking: a thread cannot wait on a completion queue and on epoll/io_uring at once (a queue
// has no descriptor). While worker w sleeps in its I/O backend, a standby thread waits in w's
// queue (cq->Next); the first event it gets goes to the worker's inbox and wakes the worker,
// and the standby goes back to waiting for the next time the worker parks. A worker that wakes
// for something else takes its queue back with a grpc::Alarm (the standby leaves Next). So a
// busy worker polls its queue itself (no thread wakes), an idle system has every thread asleep
// (no polling), and the cost of an idle-to-busy edge is one thread wake, as with gRPC's own
// threads. Between turns an empty queue is looked into less and less often (every 1 to 16
// polls: each look is an epoll_wait); a worker about to park always looks.
//
// Tags: everything put on these queues is a WorkerQueueTag; its Proceed(ok) runs on the queue's
// worker (or, during Shutdown, on the thread calling it). A tag's owner starts operations on
// the queues only inside an OpGuard (so none starts once Shutdown has closed them) and requests
// new calls only while accepting().
//
// Lifecycle: make the queues with ServerBuilder::AddCompletionQueue (one to one a worker) before
// BuildAndStart, Start() once the server runs; at the end server->Shutdown() first, then
// Shutdown() here: it stops the workers polling, wakes and joins the standbys, then polls the
// queues itself until the owner says its calls are over (`calls_over`, or `patience` passed),
// and only then closes the queues and drains them, running Proceed(false) for what was left.
// So calls still ending finish on open queues; and on a server with interceptors a call's done
// notification posts itself to its queue again after them, which aborts the process if that
// queue has been shut down (seen in remote_node_test while the gateway still installed one).
//
// Thread safety: Start, Shutdown and the destructor from one thread that is not a worker;
// OpGuard and accepting() from any thread; the WorkerSource methods as worker_source.h says.
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
  // `queues[i]` is worker i's (one to as many as the scheduler has workers; workers past the
  // last queue poll none).
  WorkerQueues(Scheduler& scheduler,
               std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues);
  ~WorkerQueues() override;
  WorkerQueues(const WorkerQueues&) = delete;
  WorkerQueues& operator=(const WorkerQueues&) = delete;

  int size() const { return static_cast<int>(queues_.size()); }
  grpc::ServerCompletionQueue* queue(int w) const;

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
  bool SpinBeforePark(int w) override { return w >= size(); }  // one with a queue waits for it

 private:
  struct Queue;
  class ReclaimTag;
  void Standby(Queue& q);
  static void DrainInbox(Queue& q);

  Scheduler& scheduler_;
  std::vector<std::unique_ptr<Queue>> queues_;
  bool started_ = false;
  bool shut_down_ = false;
  std::atomic<bool> accepting_{true};
  std::atomic<bool> closed_{false};
  std::atomic<int> ops_starting_{0};
};

}  // namespace troupe

#endif  // ACTORS_GRPC_WORKER_QUEUES_H_
