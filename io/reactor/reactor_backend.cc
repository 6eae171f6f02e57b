// ReactorBackend invariants:
//  1. An fd's FdState is `open` from its first operation until Close(); `generation` changes
//     at Close(), so code that called a handler re-checks it before touching the fd again
//     (the handler may have closed it, and the number may already belong to a new socket).
//  2. `readable` / `writable` are cleared only by EAGAIN or a short read, and set only by an
//     epoll edge (or on opening): no syscall is made on an fd known to be drained. A short read
//     does not clear `readable` once the peer's FIN was reported (EPOLLRDHUP): the FIN may have
//     come in the same edge as the data, and only a further read returns the end of stream.
//  3. A completion produced inside the call that started the operation is deferred to the next
//     Poll(); a deferred completion is dropped if its fd was closed meanwhile (kClose excepted).
#include "io/reactor/reactor_backend.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "io/pending_send.h"

namespace troupe {
namespace {

constexpr size_t kRecvBufferSize = 64 * 1024;
constexpr int kMaxReadsPerService = 16;  // then the fd goes to the back (fairness)
constexpr int kMaxAcceptsPerService = 64;
constexpr int kMaxEvents = 256;

int TimeoutMillis(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  // Round up: waking before a timer is due would only spin.
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(timeout + absl::Microseconds(999)), INT_MAX));
}

}  // namespace

struct ReactorBackend::FdState {
  IoHandler* handler = nullptr;
  uint64_t generation = 0;
  bool open = false;
  bool registered = false;
  bool watch_out = false;  // EPOLLOUT in the interest set (only once a write would block)
  bool readable = false;
  bool writable = false;
  bool pending = false;  // listed in pending_
  bool accepting = false;
  bool receiving = false;
  bool connecting = false;
  bool sending = false;
  bool peer_closed = false;  // EPOLLRDHUP/HUP seen: read on until the end of stream
  PendingSend send;
};

absl::StatusOr<std::unique_ptr<ReactorBackend>> ReactorBackend::Create() {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    return absl::InternalError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    ::close(epoll_fd);
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(err)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    const int err = errno;
    ::close(wake_fd);
    ::close(epoll_fd);
    return absl::InternalError(absl::StrCat("epoll_ctl(eventfd): ", std::strerror(err)));
  }
  return std::unique_ptr<ReactorBackend>(new ReactorBackend(epoll_fd, wake_fd));
}

ReactorBackend::ReactorBackend(int epoll_fd, int wake_fd)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd), buffer_(new char[kRecvBufferSize]) {
  shareable_ = true;  // plain memory and epoll_wait: any thread that holds it may drive it
}

ReactorBackend::~ReactorBackend() {
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

ReactorBackend::FdState& ReactorBackend::StateFor(int fd, IoHandler* handler) {
  if (static_cast<size_t>(fd) >= fds_.size())
    fds_.resize(std::max<size_t>(fd + 1, fds_.size() * 2));
  FdState& st = fds_[fd];
  if (!st.open) {
    st.open = true;
    ++open_fds_;
    st.handler = handler;
    ++st.generation;
    st.readable = true;  // unknown: the first attempt finds out
    st.writable = true;
    st.accepting = st.receiving = st.connecting = st.sending = false;
    st.peer_closed = false;
    st.registered = false;
  }
  if (!st.registered) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    Count(syscalls_);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
      st.registered = true;
      st.watch_out = false;
    }
    // Otherwise (EPERM: not pollable) the operation's own syscall reports the problem.
  }
  return st;
}

void ReactorBackend::WatchWritable(int fd, FdState& st) {
  // EPOLLOUT joins the interest set only when a write would block (or a connect is under
  // way): registered from the start, every ACK that frees send-buffer space would be an edge,
  // i.e. a spurious wake-up per round trip.
  if (st.watch_out || !st.registered) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  Count(syscalls_);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) st.watch_out = true;
}

void ReactorBackend::MarkPending(int fd) {
  FdState& st = fds_[fd];
  if (st.pending) return;
  st.pending = true;
  pending_.push_back(fd);
}

void ReactorBackend::Accept(int listen_fd, IoHandler* handler) {
  FdState& st = StateFor(listen_fd, handler);
  st.accepting = true;
  MarkPending(listen_fd);
}

void ReactorBackend::Recv(int fd, IoHandler* handler) {
  FdState& st = StateFor(fd, handler);
  st.receiving = true;
  MarkPending(fd);
}

void ReactorBackend::StopRecv(int fd) {
  if (static_cast<size_t>(fd) < fds_.size()) fds_[fd].receiving = false;
}

void ReactorBackend::Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) {
  // Register only after connect(): an unconnected TCP socket polls as EPOLLHUP.
  Count(syscalls_);
  const int r = ::connect(fd, addr, len);
  const int err = r == 0 ? 0 : errno;
  FdState& st = StateFor(fd, handler);
  if (err == EINPROGRESS) {
    st.connecting = true;
    st.writable = false;
    WatchWritable(fd, st);
    return;
  }
  Defer(fd, handler, st.generation, Completion{IoOp::kConnect, -err});
}

void ReactorBackend::Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) {
  FdState& st = StateFor(fd, handler);
  st.send.Start(iov, iovcnt);
  st.sending = true;
  if (st.writable) {
    int32_t result;
    if (DoSend(fd, st, &result)) {
      Defer(fd, handler, st.generation, Completion{IoOp::kSend, result});
    }
  }
}

int64_t ReactorBackend::SendNow(int fd, const char* data, size_t size) {
  for (;;) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      if (static_cast<size_t>(n) == size) sent_now_.fetch_add(1, std::memory_order_relaxed);
      return n;
    }
    if (errno != EINTR) return -errno;
  }
}

void ReactorBackend::Close(int fd, IoHandler* handler) {
  if (static_cast<size_t>(fd) < fds_.size()) {
    FdState& st = fds_[fd];
    if (st.open && st.registered) {
      Count(syscalls_);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    if (st.open) --open_fds_;
    st.open = false;
    st.registered = false;
    ++st.generation;
    st.accepting = st.receiving = st.connecting = st.sending = false;
    st.send.iov.clear();
  }
  Count(syscalls_);
  ::close(fd);
  Defer(fd, handler, kAlwaysDeliver, Completion{IoOp::kClose, 0});
}

bool ReactorBackend::Deliver(int fd, FdState& st, const Completion& c) {
  const uint64_t generation = st.generation;
  Count(completions_);
  if (c.result < 0) Count(errors_);
  st.handler->OnCompletion(fd, c);
  return st.generation == generation;
}

bool ReactorBackend::DoAccept(int fd, FdState& st) {
  for (int accepted = 0; st.accepting && st.readable; ++accepted) {
    if (accepted == kMaxAcceptsPerService) {
      MarkPending(fd);
      return true;
    }
    Count(syscalls_);
    const int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) {
      if (!Deliver(fd, st, Completion{IoOp::kAccept, conn, nullptr, true})) return false;
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      st.readable = false;
      break;
    }
    if (err == EINTR || err == ECONNABORTED) continue;
    // EMFILE, ENFILE, ENOBUFS...: the accept ends so its owner can back off and re-arm
    // (retrying here would spin: the pending connection keeps the socket readable).
    st.accepting = false;
    return Deliver(fd, st, Completion{IoOp::kAccept, -err, nullptr, false});
  }
  return true;
}

bool ReactorBackend::DoRecv(int fd, FdState& st) {
  for (int reads = 0; st.receiving && st.readable; ++reads) {
    if (reads == kMaxReadsPerService) {
      MarkPending(fd);
      return true;
    }
    Count(syscalls_);
    const ssize_t n = ::read(fd, buffer_.get(), kRecvBufferSize);
    if (n > 0) {
      if (static_cast<size_t>(n) < kRecvBufferSize && !st.peer_closed) {
        st.readable = false;  // drained (point 2)
      }
      if (!Deliver(fd, st, Completion{IoOp::kRecv, static_cast<int32_t>(n), buffer_.get(), true})) {
        return false;
      }
      continue;
    }
    const int err = n == 0 ? 0 : errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      st.readable = false;
      break;
    }
    if (err == EINTR) continue;
    st.receiving = false;  // end of stream or error; the fd stays readable (EOF persists)
    return Deliver(fd, st, Completion{IoOp::kRecv, -err, nullptr, false});
  }
  return true;
}

bool ReactorBackend::DoSend(int fd, FdState& st, int32_t* result) {
  while (!st.send.done()) {
    Count(syscalls_);
    ssize_t n;
    if (st.send.rest_count() == 1) {
      // One chunk (a reply, most often): send() spares the kernel sendmsg's copy and check of
      // the message header and iovec array.
      n = ::send(fd, st.send.rest()->iov_base, st.send.rest()->iov_len, MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = st.send.rest();
      msg.msg_iovlen = std::min<size_t>(st.send.rest_count(), IOV_MAX);
      n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    }
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        st.writable = false;
        // Adding EPOLLOUT re-polls the socket: if space freed meanwhile, the edge comes now.
        WatchWritable(fd, st);
        return false;  // EPOLLOUT resumes it
      }
      st.sending = false;
      *result = -err;
      return true;
    }
    st.send.Advance(static_cast<size_t>(n));
  }
  st.sending = false;
  *result = static_cast<int32_t>(std::min<int64_t>(st.send.total, INT32_MAX));
  return true;
}

void ReactorBackend::FinishConnect(int fd, FdState& st) {
  int err = 0;
  socklen_t len = sizeof(err);
  Count(syscalls_);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  st.connecting = false;
  Deliver(fd, st, Completion{IoOp::kConnect, -err});
}

void ReactorBackend::Service(int fd) {
  FdState& st = fds_[fd];
  if (!st.open) return;
  const uint64_t generation = st.generation;
  if (st.connecting && st.writable) {
    FinishConnect(fd, st);
    if (st.generation != generation) return;
  }
  if (st.accepting && st.readable && !DoAccept(fd, st)) return;
  if (st.receiving && st.readable && !DoRecv(fd, st)) return;
  if (st.sending && st.writable) {
    int32_t result;
    if (DoSend(fd, st, &result)) Deliver(fd, st, Completion{IoOp::kSend, result});
  }
}

bool ReactorBackend::DeferredStillWanted(const Deferred& d) const {
  if (d.generation == kAlwaysDeliver) return true;
  const FdState& st = fds_[d.fd];
  return st.open && st.generation == d.generation;  // else closed meanwhile (point 3)
}

int ReactorBackend::PollReady() {
  int handled = RunPosted();
  handled += DeliverDeferred();
  if (!pending_.empty()) {
    std::vector<int> batch;
    batch.swap(pending_);
    for (int fd : batch) {
      fds_[fd].pending = false;
      Service(fd);
    }
    handled += static_cast<int>(batch.size());
  }
  return handled;
}

int ReactorBackend::Poll(absl::Duration timeout) {
  Count(polls_);
  int handled = PollReady();
  if (handled > 0 || HasDeferred() || !pending_.empty() || HasPosted()) {
    timeout = absl::ZeroDuration();
  }
  // One thread at a time waits in the kernel (another may poll without waiting meanwhile).
  const bool blocking = timeout > absl::ZeroDuration() && BeginWait();
  if (!blocking) timeout = absl::ZeroDuration();
  epoll_event events[kMaxEvents];
  Count(syscalls_);
  const bool let_go = blocking && LetGoForWait();
  const int n = Wait(events, kMaxEvents, timeout);
  if (blocking) EndWait();
  if (let_go) TakeHold();
  if (blocking) Count(waits_);
  int serviced = 0;
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      // Level-triggered: left for the waiter (a Wake is for it) when this poll did not wait,
      // and not counted as handled (a poll that found only it found nothing).
      if (!blocking) continue;
      uint64_t value;
      Count(syscalls_);
      (void)!::read(wake_fd_, &value, sizeof(value));
      ++serviced;
      continue;
    }
    ++serviced;
    FdState& st = fds_[fd];
    const uint32_t e = events[i].events;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) st.readable = true;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) st.peer_closed = true;
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) st.writable = true;
    Service(fd);
  }
  handled += serviced;
  handled += DeliverDeferred();
  return handled;
}

int ReactorBackend::Wait(epoll_event* events, int max_events, absl::Duration timeout) {
  // epoll_pwait2 (Linux 5.11) takes the timeout in nanoseconds: a worker that bounds its sleep
  // to watch a busy one (take_over_after, 200 us) would wait a whole millisecond otherwise.
  if (pwait2_.load(std::memory_order_relaxed)) {
    timespec ts{};
    if (timeout != absl::InfiniteDuration()) {
      ts = absl::ToTimespec(std::max(timeout, absl::ZeroDuration()));
    }
    const int n = ::epoll_pwait2(epoll_fd_, events, max_events,
                                 timeout == absl::InfiniteDuration() ? nullptr : &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    pwait2_.store(false, std::memory_order_relaxed);
  }
  return ::epoll_wait(epoll_fd_, events, max_events, TimeoutMillis(timeout));
}

void ReactorBackend::Kick() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

}  // namespace troupe
