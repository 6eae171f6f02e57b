// ReactorBackend: IoBackend over epoll (readiness), emulating completions.
//
// Each fd is registered once, edge-triggered, and its readiness is remembered: a recv or accept
// runs its syscall only when the fd is known readable, and a read shorter than the buffer
// marks it drained (a TCP socket cannot then hold more without a new edge), so a round trip
// costs one read and one write, as in a hand-written epoll loop. Sends are tried at once
// (sendmsg); only a write that would block adds EPOLLOUT to the fd's interest set.
//
// Thread safety: as IoBackend; shareable(): its state is plain memory and epoll_wait may be
// called from any thread, so any worker that holds it may drive it.
#ifndef IO_REACTOR_REACTOR_BACKEND_H_
#define IO_REACTOR_REACTOR_BACKEND_H_

#include <sys/epoll.h>

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "io/backend.h"

namespace troupe {

class ReactorBackend final : public IoBackend {
 public:
  // INTERNAL if epoll or the wake-up eventfd cannot be created (errno in the message).
  static absl::StatusOr<std::unique_ptr<ReactorBackend>> Create();
  ~ReactorBackend() override;

  std::string_view name() const override { return "epoll"; }
  void Accept(int listen_fd, IoHandler* handler) override;
  void Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) override;
  void Recv(int fd, IoHandler* handler) override;
  void StopRecv(int fd) override;
  void Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) override;
  // send(2) at once; the fd's readiness is not touched (a Send() after an -EAGAIN finds out).
  int64_t SendNow(int fd, const char* data, size_t size) override;
  bool sends_now() const override { return true; }
  void Close(int fd, IoHandler* handler) override;
  int Poll(absl::Duration timeout) override;
  int PollReady() override;

 protected:
  void Kick() override;

 private:
  struct FdState;
  // Deferred::generation: the fd's generation when queued; kAlwaysDeliver for kClose.
  static constexpr uint64_t kAlwaysDeliver = ~uint64_t{0};
  bool DeferredStillWanted(const Deferred& d) const override;
  bool HasWorkForPoll() const override { return HasDeferred() || !pending_.empty(); }

  ReactorBackend(int epoll_fd, int wake_fd);
  FdState& StateFor(int fd, IoHandler* handler);
  void MarkPending(int fd);
  void WatchWritable(int fd, FdState& st);
  void Service(int fd);
  // Each returns false if the handler closed the fd meanwhile.
  bool DoAccept(int fd, FdState& st);
  bool DoRecv(int fd, FdState& st);
  // True when the send finished (then *result is its completion's result).
  bool DoSend(int fd, FdState& st, int32_t* result);
  void FinishConnect(int fd, FdState& st);
  bool Deliver(int fd, FdState& st, const Completion& c);
  // epoll_pwait2, or epoll_wait (milliseconds, rounded up) where the kernel lacks it.
  int Wait(epoll_event* events, int max_events, absl::Duration timeout);

  const int epoll_fd_;
  const int wake_fd_;
  std::deque<FdState> fds_;         // indexed by fd; a deque keeps references stable on growth
  std::vector<int> pending_;        // fds with work to retry at the next Poll
  std::unique_ptr<char[]> buffer_;  // recv buffer shared by every fd (data valid in callback)
  // Until the kernel says ENOSYS; read by a waiter that let the hold go, so atomic.
  std::atomic<bool> pwait2_{true};
};

}  // namespace troupe

#endif  // IO_REACTOR_REACTOR_BACKEND_H_
