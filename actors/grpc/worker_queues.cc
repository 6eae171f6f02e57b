#include "actors/grpc/worker_queues.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace troupe {

// The alarm that makes a standby leave Next when its worker has woken and polls again.
class WorkerQueues::ReclaimTag final : public WorkerQueueTag {
 public:
  explicit ReclaimTag(Queue* q) : q_(q) {}
  void Proceed(bool ok) override;

 private:
  Queue* const q_;
};

struct WorkerQueues::Queue {
  explicit Queue(std::unique_ptr<grpc::ServerCompletionQueue> queue)
      : cq(std::move(queue)), reclaim(this) {}
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  ReclaimTag reclaim;
  int worker = 0;
  std::thread standby;

  std::mutex mu;
  std::condition_variable cv;
  // The worker parks: the standby is to wait in the queue (set by Parking, cleared by the
  // standby when it hands over an event, or by Resumed).
  bool standby_watches = false;
  bool in_next = false;        // the standby is inside cq->Next
  bool alarm_pending = false;  // `alarm` is set and its tag not yet seen
  bool stopping = false;
  grpc::Alarm alarm;
  std::vector<std::pair<WorkerQueueTag*, bool>> inbox;  // handed over by the standby
  std::atomic<bool> has_inbox{false};
  std::atomic<uint64_t> polled{0}, handed_over{0}, reclaims{0};
  // The worker's: an empty queue's look (AsyncNext, an epoll_wait) is skipped between turns for
  // the next `skip` polls, a back-off of 1, 2, 4 .. 16 that a found event resets. When idle the
  // worker always looks.
  int skip = 0;
  int backoff = 0;
};

void WorkerQueues::ReclaimTag::Proceed(bool) {
  std::lock_guard<std::mutex> lock(q_->mu);
  q_->alarm_pending = false;
}

WorkerQueues::WorkerQueues(Scheduler& scheduler,
                           std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues)
    : scheduler_(scheduler) {
  for (auto& cq : queues) {
    queues_.push_back(std::make_unique<Queue>(std::move(cq)));
    queues_.back()->worker = static_cast<int>(queues_.size()) - 1;
  }
}

WorkerQueues::~WorkerQueues() { Shutdown(); }

grpc::ServerCompletionQueue* WorkerQueues::queue(int w) const { return queues_.at(w)->cq.get(); }

absl::Status WorkerQueues::Start() {
  if (started_) return absl::FailedPreconditionError("the worker queues have started");
  if (queues_.empty() || static_cast<int>(queues_.size()) > scheduler_.num_workers()) {
    return absl::FailedPreconditionError(absl::StrCat(
        queues_.size(), " completion queues for ", scheduler_.num_workers(),
        " workers (at least one queue, at most one a worker)"));
  }
  if (!scheduler_.AddWorkerSource(this)) {
    return absl::FailedPreconditionError(
        "this scheduler has no worker threads to drive completion queues");
  }
  started_ = true;
  for (auto& q : queues_) {
    Queue* queue = q.get();
    q->standby = std::thread([this, queue] { Standby(*queue); });
  }
  return absl::OkStatus();
}

WorkerQueues::OpGuard::OpGuard(WorkerQueues& queues) : queues_(queues) {
  // Count first, then look (both seq_cst): Shutdown sets closed_ and then waits for the count,
  // so an operation either starts before the queues close or not at all.
  queues_.ops_starting_.fetch_add(1, std::memory_order_seq_cst);
  open_ = !queues_.closed_.load(std::memory_order_seq_cst);
}

WorkerQueues::OpGuard::~OpGuard() { queues_.ops_starting_.fetch_sub(1, std::memory_order_release); }

void WorkerQueues::DrainInbox(Queue& q) {
  std::vector<std::pair<WorkerQueueTag*, bool>> events;
  {
    std::lock_guard<std::mutex> lock(q.mu);
    events.swap(q.inbox);
    q.has_inbox.store(false, std::memory_order_relaxed);
  }
  for (auto& [tag, ok] : events) tag->Proceed(ok);
}

bool WorkerQueues::Poll(int w, bool idle) {
  if (w >= size()) return false;  // a worker without a queue
  Queue& q = *queues_[w];
  bool any = false;
  if (q.has_inbox.load(std::memory_order_acquire)) {
    DrainInbox(q);
    any = true;
  }
  if (!idle && q.skip > 0) {
    --q.skip;
    return any;
  }
  bool found = false;
  // A bounded batch, so the worker's actors (the replies) get their turns between batches.
  for (int i = 0; i < 64; ++i) {
    void* tag;
    bool ok;
    if (q.cq->AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) !=
        grpc::CompletionQueue::GOT_EVENT) {
      break;
    }
    auto* t = static_cast<WorkerQueueTag*>(tag);
    t->Proceed(ok);
    if (t != &q.reclaim) {
      found = true;
      q.polled.fetch_add(1, std::memory_order_relaxed);
    }
  }
  q.backoff = found ? 0 : std::min(std::max(1, 2 * q.backoff), 16);
  q.skip = q.backoff;
  return any || found;
}

bool WorkerQueues::Parking(int w) {
  if (w >= size()) return true;
  Queue& q = *queues_[w];
  {
    std::lock_guard<std::mutex> lock(q.mu);
    if (!q.inbox.empty()) return false;
    q.standby_watches = true;
  }
  q.cv.notify_one();
  return true;
}

void WorkerQueues::Resumed(int w) {
  if (w >= size()) return;
  Queue& q = *queues_[w];
  std::lock_guard<std::mutex> lock(q.mu);
  q.standby_watches = false;
  if (q.in_next && !q.alarm_pending) {  // the standby waits in the queue: call it off
    q.alarm_pending = true;
    q.alarm.Set(q.cq.get(), gpr_now(GPR_CLOCK_MONOTONIC), &q.reclaim);
    q.reclaims.fetch_add(1, std::memory_order_relaxed);
  }
}

void WorkerQueues::Standby(Queue& q) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(q.mu);
      q.cv.wait(lock, [&] { return q.standby_watches || q.stopping; });
      if (q.stopping) return;
      q.in_next = true;
    }
    void* tag;
    bool ok;
    const bool got = q.cq->Next(&tag, &ok);
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(q.mu);
      q.in_next = false;
      if (!got) return;  // shut down and drained
      if (tag == &q.reclaim) {
        q.alarm_pending = false;
        continue;
      }
      q.inbox.emplace_back(static_cast<WorkerQueueTag*>(tag), ok);
      q.handed_over.fetch_add(1, std::memory_order_relaxed);
      q.has_inbox.store(true, std::memory_order_release);
      // A parked worker is woken; an awake one (it reclaimed the queue meanwhile) polls its
      // inbox before it can park again (Parking refuses while the inbox has something).
      wake = q.standby_watches;
      q.standby_watches = false;
    }
    if (wake) scheduler_.WakeWorker(q.worker);
  }
}

WorkerQueueStats WorkerQueues::stats() const {
  WorkerQueueStats s;
  for (const auto& q : queues_) {
    s.polled += q->polled.load(std::memory_order_relaxed);
    s.handed_over += q->handed_over.load(std::memory_order_relaxed);
    s.reclaims += q->reclaims.load(std::memory_order_relaxed);
  }
  return s;
}

void WorkerQueues::Shutdown(const std::function<bool()>& calls_over, absl::Duration patience) {
  if (shut_down_) return;
  shut_down_ = true;
  accepting_.store(false, std::memory_order_release);
  if (!started_) {
    for (auto& q : queues_) {
      q->cq->Shutdown();
      void* tag;
      bool ok;
      while (q->cq->Next(&tag, &ok)) static_cast<WorkerQueueTag*>(tag)->Proceed(ok);
    }
    return;
  }
  scheduler_.RemoveWorkerSource(this);  // from now on no worker polls or parks with us
  for (auto& q : queues_) {
    {
      std::lock_guard<std::mutex> lock(q->mu);
      q->stopping = true;
      if (q->in_next && !q->alarm_pending) {
        q->alarm_pending = true;
        q->alarm.Set(q->cq.get(), gpr_now(GPR_CLOCK_MONOTONIC), &q->reclaim);
      }
    }
    q->cv.notify_one();
  }
  for (auto& q : queues_) q->standby.join();
  // The calls end on open queues (their done notifications post themselves again), polled
  // here now that no worker does.
  const absl::Time give_up = absl::Now() + patience;
  while (calls_over && !calls_over() && absl::Now() < give_up) {
    for (auto& q : queues_) {
      DrainInbox(*q);
      void* tag;
      bool ok;
      while (q->cq->AsyncNext(&tag, &ok, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                      gpr_time_from_millis(1, GPR_TIMESPAN))) ==
             grpc::CompletionQueue::GOT_EVENT) {
        static_cast<WorkerQueueTag*>(tag)->Proceed(ok);
      }
    }
  }
  // No operation starts from here on: wait for those being started, then close the queues.
  closed_.store(true, std::memory_order_seq_cst);
  while (ops_starting_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  for (auto& q : queues_) {
    q->cq->Shutdown();
    DrainInbox(*q);
    void* tag;
    bool ok;
    while (q->cq->Next(&tag, &ok)) static_cast<WorkerQueueTag*>(tag)->Proceed(ok);
  }
}

}  // namespace troupe
