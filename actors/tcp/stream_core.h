// StreamCore (internal): the state of one TCP connection, driven with the IoBackend that owns
// the socket. TcpStream is the owner actor's handle on it.
//
// Thread safety: the *OnOwner methods and the IoHandler callbacks run only on the thread that
// drives the backend (holds it: io/backend.h); Run() may be called from any thread, runs its
// call at once if it holds the backend or can take the hold, else posts it, and keeps the calls
// of one caller in order (a call is run directly only when nothing posted earlier is pending).
// TryWriteNow() may be called from any thread too: on a backend that sends_now() (epoll) and
// that other threads drive too (shareable()), a write to a stream with nothing queued or in
// flight goes to the socket from the writer's thread, without the hold (so a worker writing
// never waits for, or posts to, the worker handling events); the lock it takes for the syscall
// is taken by the owner side only to stop such writes (a send of its own starts, the fd is
// closed). The atomics are readable from any thread. Lifetime: shared by the handle and by
// itself while its fd is open; the self-reference is dropped at the kClose completion.
#ifndef ACTORS_TCP_STREAM_CORE_H_
#define ACTORS_TCP_STREAM_CORE_H_

#include <sys/uio.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "actors/tcp/tcp_stream.h"
#include "io/backend.h"
#include "io/socket/socket.h"
#include "framework/base/credit.h"
#include "framework/base/mutex.h"
#include "io/framing/framer.h"
#include "framework/metrics/metrics.h"
#include "framework/scheduler/scheduler.h"

namespace troupe::internal {

// What a listener counts of its connections, shared with each of them. The byte counters are
// sharded (metrics.h): every worker adds to its own cache line.
struct ConnectionCounters {
  std::atomic<int64_t> open{0};
  metrics::Counter bytes_received;
  metrics::Counter bytes_sent;
};

class StreamCore final : public IoHandler,
                         public CreditSink,
                         private FrameSink,
                         public std::enable_shared_from_this<StreamCore> {
 public:
  // `counters` (may be null): the listener's, counting this connection's bytes, and its close.
  // `scheduler` runs the first-frame and idle timers (TcpStreamOptions).
  static std::shared_ptr<StreamCore> Create(IoBackend& backend, Scheduler& scheduler, int fd,
                                            TcpStreamOptions options,
                                            std::shared_ptr<ConnectionCounters> counters);
  ~StreamCore();

  // Runs fn driving the backend (now, or posted to the thread that drives it), in call order.
  template <typename F>
  void Run(F&& fn) {
    if (pending_posts_.load(std::memory_order_acquire) == 0 && backend_.RunIfHeld(fn)) return;
    pending_posts_.fetch_add(1, std::memory_order_acq_rel);
    backend_.Post([self = shared_from_this(), fn = std::forward<F>(fn)]() mutable {
      fn();
      self->pending_posts_.fetch_sub(1, std::memory_order_acq_rel);
    });
  }

  void StartOnOwner(std::unique_ptr<StreamEvents> events);
  // Connects, then starts toward `events`; a failure (or `timeout`) closes with its status.
  void ConnectOnOwner(const SocketAddress& to, std::unique_ptr<StreamEvents> events);
  void WriteOnOwner(std::string bytes);
  // Any thread, for bytes already reserved (ReserveQueue): sends them now if the stream has
  // nothing queued, in flight or posted and its backend sends_now() and is shareable(); true if
  // all went out. Otherwise what was not sent is left in `bytes`, for WriteOnOwner, and writes
  // now stop until the owner side has sent it.
  bool TryWriteNow(std::string& bytes);
  void CloseOnOwner(absl::Status reason, bool flush_first, bool notify);
  // Closes with `reason` if the connect is still in progress.
  void ExpireConnect(absl::Status reason) {
    if (connecting_) CloseOnOwner(std::move(reason), false, true);
  }

  // Any thread.
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // Above the high-water mark, or paused and not yet drained to half of it. Computed from
  // the queue counter too, so a writer on another thread sees it at once.
  bool backpressured() const {
    return backpressured_.load(std::memory_order_acquire) ||
           queued_bytes() > options_.high_water_bytes;
  }
  size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_acquire); }
  // Reserves queue space for a write of n bytes; false if that would pass max_queued_bytes.
  bool ReserveQueue(size_t n);
  const TcpStreamOptions& options() const { return options_; }
  const Framer& framer() const { return *framer_; }
  // A ReceiveCredit of `bytes` was released (any thread).
  void ReturnCredit(size_t bytes) override;
  uint64_t id() const { return id_; }

 private:
  StreamCore(IoBackend& backend, Scheduler& scheduler, int fd, TcpStreamOptions options,
             std::shared_ptr<ConnectionCounters> counters);
  // Slowloris limits: arms a timer for the nearest deadline; closes the stream when one passed.
  void ArmDeadline();
  void CheckDeadlines();

  void OnCompletion(int fd, const Completion& c) override;
  void OnFrame(std::string_view frame) override;
  void OnFrameError(absl::Status error) override;
  void Flush();
  void OnSent(int32_t result);
  void CloseNow();
  // Arms or stops the backend's receive to match receiving_/backpressured_/inbound_paused_.
  void UpdateReading();
  // Lets TryWriteNow write, or stops it, to match sending_/out_/connecting_/closing.
  void UpdateWritingNow();

  IoBackend& backend_;
  Scheduler& scheduler_;
  const int fd_;
  const uint64_t id_;
  const TcpStreamOptions options_;
  const std::unique_ptr<Framer> framer_;
  std::shared_ptr<ConnectionCounters> counters_;
  std::shared_ptr<StreamCore> self_;  // set while the fd is open

  // Owner thread only.
  std::unique_ptr<StreamEvents> events_;
  std::deque<std::string> out_;  // never holds an empty chunk
  std::vector<iovec> iov_;       // the send in flight: one entry per leading chunk of out_
  size_t in_flight_bytes_ = 0;
  bool sending_ = false;
  bool receiving_ = false;       // started, and the peer has not ended the stream
  bool inbound_paused_ = false;  // owner behind by more than max_unprocessed_bytes
  bool reading_ = false;         // the backend's Recv is armed
  bool connecting_ = false;
  bool close_after_flush_ = false;
  bool close_started_ = false;
  bool notify_close_ = true;
  bool got_frame_ = false;
  TimerHandle deadline_timer_;  // cancelled at close, so closed streams leave no timer behind
  absl::Time started_at_;
  absl::Time last_received_;
  absl::Status close_reason_;
  SocketAddress connect_to_;

  // TryWriteNow's gate: true while the owner side has nothing queued or in flight on an open,
  // started stream. Held during TryWriteNow's syscall.
  Mutex write_now_mu_;
  bool write_now_ ABSL_GUARDED_BY(write_now_mu_) = false;
  bool started_ = false;  // owner thread: StartOnOwner ran

  std::atomic<int> pending_posts_{0};
  std::atomic<bool> closed_{false};
  // Outbound queue went over the high-water mark and has not drained to half of it yet:
  // reading is paused. Written by the owner thread only; read by the handle too.
  std::atomic<bool> backpressured_{false};
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<size_t> unprocessed_bytes_{0};
};

}  // namespace troupe::internal

#endif  // ACTORS_TCP_STREAM_CORE_H_
