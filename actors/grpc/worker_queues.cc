#include "actors/grpc/worker_queues.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace troupe {
namespace {
// A queue's awake workers that have not polled it for this long are taken as stuck, and the
// standby serves its sleeping workers meanwhile.
constexpr absl::Duration kStuckAfter = absl::Milliseconds(10);

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

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
  std::vector<Poller*> pollers;  // of the workers that poll it
  std::thread standby;

  std::mutex mu;
  std::condition_variable cv;
  int parked = 0;              // its workers between Parking and Resumed
  bool in_next = false;        // the standby is inside cq->Next
  bool alarm_pending = false;  // `alarm` is set and its tag not yet seen
  bool stopping = false;
  grpc::Alarm alarm;
  size_t next_awake = 0;  // the standby's event with no worker parked goes to pollers[this]
  std::atomic<uint64_t> handed_over{0}, reclaims{0};
  // When one of its workers last called Poll (SteadyNanos), kept while several poll it: how
  // the standby tells that the awake ones have stopped polling.
  std::atomic<int64_t> last_poll_ns{0};

  int size() const { return static_cast<int>(pollers.size()); }
  // Under mu: the standby should wait in the queue - every worker of it sleeps, or some do and
  // the others have not polled it for kStuckAfter (a long turn, a preempted thread).
  bool NeedsStandby() const {
    if (parked == 0) return false;
    if (parked == size()) return true;
    return SteadyNanos() - last_poll_ns.load(std::memory_order_relaxed) >
           absl::ToInt64Nanoseconds(kStuckAfter);
  }
};

// Worker w's side of the queue it polls.
struct WorkerQueues::Poller {
  Poller(Queue* q, int w) : queue(q), worker(w) {}
  Queue* const queue;
  const int worker;
  // Under queue->mu: the worker is between Parking and Resumed (the standby may hand it
  // events); the events the standby handed it.
  bool parked = false;
  std::vector<std::pair<WorkerQueueTag*, bool>> inbox;
  std::atomic<bool> has_inbox{false};
  std::atomic<uint64_t> polled{0};
  // The worker's own: an empty queue's look (AsyncNext, an epoll_wait) is skipped between turns
  // for the next `skip` polls, a back-off of 1, 2, 4 .. 16 that a found event resets. When idle
  // the worker always looks.
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
  for (auto& cq : queues) queues_.push_back(std::make_unique<Queue>(std::move(cq)));
  if (queues_.empty()) return;
  for (int w = 0; w < scheduler_.num_workers(); ++w) {
    Queue* q = queues_[w % queues_.size()].get();
    pollers_.push_back(std::make_unique<Poller>(q, w));
    q->pollers.push_back(pollers_.back().get());
  }
}

WorkerQueues::~WorkerQueues() { Shutdown(); }

grpc::ServerCompletionQueue* WorkerQueues::queue(int i) const { return queues_.at(i)->cq.get(); }

int WorkerQueues::sole_worker(int i) const {
  const std::vector<Poller*>& pollers = queues_.at(i)->pollers;
  return pollers.size() == 1 ? pollers[0]->worker : -1;
}

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

void WorkerQueues::DrainInbox(Poller& p) {
  std::vector<std::pair<WorkerQueueTag*, bool>> events;
  {
    std::lock_guard<std::mutex> lock(p.queue->mu);
    events.swap(p.inbox);
    p.has_inbox.store(false, std::memory_order_relaxed);
  }
  for (auto& [tag, ok] : events) tag->Proceed(ok);
}

bool WorkerQueues::Poll(int w, bool idle) {
  if (w >= static_cast<int>(pollers_.size())) return false;
  Poller& p = *pollers_[w];
  Queue& q = *p.queue;
  if (q.size() > 1) q.last_poll_ns.store(SteadyNanos(), std::memory_order_relaxed);
  bool any = false;
  if (p.has_inbox.load(std::memory_order_acquire)) {
    DrainInbox(p);
    any = true;
  }
  if (!idle && p.skip > 0) {
    --p.skip;
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
      p.polled.fetch_add(1, std::memory_order_relaxed);
    }
  }
  p.backoff = found ? 0 : std::min(std::max(1, 2 * p.backoff), 16);
  p.skip = p.backoff;
  return any || found;
}

bool WorkerQueues::Parking(int w) {
  if (w >= static_cast<int>(pollers_.size())) return true;
  Poller& p = *pollers_[w];
  Queue& q = *p.queue;
  {
    std::lock_guard<std::mutex> lock(q.mu);
    if (!p.inbox.empty()) return false;
    p.parked = true;
    // The last of them to sleep calls the standby in; while others are awake, its periodic
    // look (Standby) is enough.
    if (++q.parked < q.size()) return true;
  }
  q.cv.notify_one();
  return true;
}

void WorkerQueues::Resumed(int w) {
  if (w >= static_cast<int>(pollers_.size())) return;
  Poller& p = *pollers_[w];
  Queue& q = *p.queue;
  std::lock_guard<std::mutex> lock(q.mu);
  if (p.parked) {
    p.parked = false;
    --q.parked;
  }
  // A worker of the queue is awake (it polls) and the standby waits in the queue: call it off.
  if (q.in_next && !q.alarm_pending) {
    q.alarm_pending = true;
    q.alarm.Set(q.cq.get(), gpr_now(GPR_CLOCK_MONOTONIC), &q.reclaim);
    q.reclaims.fetch_add(1, std::memory_order_relaxed);
  }
}

void WorkerQueues::Standby(Queue& q) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(q.mu);
      while (!q.stopping && !q.NeedsStandby()) {
        // A queue several workers poll gets a look every kStuckAfter (no wake-up per park):
        // do the awake ones still poll it? A queue of one worker waits for it to park.
        if (q.size() > 1) {
          q.cv.wait_for(lock, absl::ToChronoNanoseconds(kStuckAfter));
        } else {
          q.cv.wait(lock);
        }
      }
      if (q.stopping) return;
      q.in_next = true;
    }
    void* tag;
    bool ok;
    const bool got = q.cq->Next(&tag, &ok);
    int wake = -1;
    {
      std::lock_guard<std::mutex> lock(q.mu);
      q.in_next = false;
      if (!got) return;  // shut down and drained
      if (tag == &q.reclaim) {
        q.alarm_pending = false;
        continue;
      }
      // To a parked worker, woken; else (they all woke meanwhile) to an awake one, which polls
      // its inbox before it can park again (Parking refuses while the inbox has something).
      Poller* to = nullptr;
      for (Poller* p : q.pollers) {
        if (p->parked) {
          to = p;
          break;
        }
      }
      if (to != nullptr) {
        to->parked = false;
        --q.parked;
        wake = to->worker;
      } else {
        to = q.pollers[q.next_awake++ % q.pollers.size()];
      }
      to->inbox.emplace_back(static_cast<WorkerQueueTag*>(tag), ok);
      to->has_inbox.store(true, std::memory_order_release);
      q.handed_over.fetch_add(1, std::memory_order_relaxed);
    }
    if (wake >= 0) scheduler_.WakeWorker(wake);
  }
}

WorkerQueueStats WorkerQueues::stats() const {
  WorkerQueueStats s;
  for (const auto& p : pollers_) s.polled += p->polled.load(std::memory_order_relaxed);
  for (const auto& q : queues_) {
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
    for (auto& p : pollers_) DrainInbox(*p);
    for (auto& q : queues_) {
      void* tag;
      bool ok;
      while (q->cq->AsyncNext(&tag, &ok,
                              gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                           gpr_time_from_millis(1, GPR_TIMESPAN))) ==
             grpc::CompletionQueue::GOT_EVENT) {
        static_cast<WorkerQueueTag*>(tag)->Proceed(ok);
      }
    }
  }
  // No operation starts from here on: wait for those being started, then close the queues.
  closed_.store(true, std::memory_order_seq_cst);
  while (ops_starting_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  for (auto& p : pollers_) DrainInbox(*p);
  for (auto& q : queues_) {
    q->cq->Shutdown();
    void* tag;
    bool ok;
    while (q->cq->Next(&tag, &ok)) static_cast<WorkerQueueTag*>(tag)->Proceed(ok);
  }
}

}  // namespace troupe
