// ProactorBackend invariants:
//  1. user_data = fd << 8 | request kind. An fd is closed only when none of its requests is in
//     the kernel (`*_armed` all false), so its number cannot be reused while a CQE for it may
//     still arrive: no generation counter is needed.
//  2. A multishot request is armed until a CQE without IORING_CQE_F_MORE; the backend re-arms
//     it while the user still wants it (`accepting` / `receiving`), e.g. after ENOBUFS.
//  3. A provided buffer goes back to the ring right after its completion was delivered.
//  4. While an fd is closing, its CQEs are consumed silently (an accepted fd is closed), and
//     the kClose completion is queued when the last armed request has ended.
//  5. StopRecv is hard: the multishot receive is cancelled, and what the kernel had already
//     placed in provided buffers before the cancel took effect (it drains a socket into as
//     many buffers as it can, so this can be megabytes) is copied into the fd's `held` bytes
//     instead of being delivered. Recv delivers `held` first (then a held end of stream),
//     from the next Poll, one buffer's worth per completion, stopping as soon as the handler
//     pauses again; only then is the receive re-armed. So a paused handler is told nothing,
//     and `held` is bounded by the ring's buffers (recv_buffers x recv_buffer_size).
#include "io/proactor/proactor_backend.h"

#include <errno.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/pending_send.h"
#include "framework/log/log.h"

namespace troupe {
namespace {

enum Kind : uint8_t { kAcceptReq = 1, kRecvReq, kSendReq, kConnectReq, kCancelReq, kWakeReq };
constexpr uint16_t kBufferGroup = 0;

uint64_t UserData(int fd, Kind kind) { return (static_cast<uint64_t>(fd) << 8) | kind; }

absl::Status Unavailable(const char* what, int err) {
  std::string hint;
  if (err == EPERM)
    hint = " (io_uring disabled: sysctl kernel.io_uring_disabled, or a seccomp filter)";
  if (err == ENOSYS) hint = " (the kernel has no io_uring, or a seccomp filter hides it)";
  return absl::UnimplementedError(absl::StrCat(what, ": ", std::strerror(err), hint));
}

}  // namespace

struct ProactorBackend::Ring {
  io_uring ring{};
  bool initialized = false;
  bool needs_enable = false;
  io_uring_buf_ring* buf_ring = nullptr;
  size_t buf_ring_bytes = 0;
  char* buffers = nullptr;
  size_t buffers_bytes = 0;
  unsigned buffer_mask = 0;

  ~Ring() {
    if (initialized) io_uring_queue_exit(&ring);
    if (buf_ring != nullptr) ::munmap(buf_ring, buf_ring_bytes);
    if (buffers != nullptr) ::munmap(buffers, buffers_bytes);
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {  // full: hand the batch to the kernel and take a fresh slot
      io_uring_submit(&ring);
      sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
  }

  void ReturnBuffer(unsigned bid, unsigned size) {
    io_uring_buf_ring_add(buf_ring, buffers + static_cast<size_t>(bid) * size, size, bid,
                          buffer_mask, 0);
    io_uring_buf_ring_advance(buf_ring, 1);
  }
};

struct ProactorBackend::FdState {
  IoHandler* handler = nullptr;
  bool open = false;
  bool closing = false;
  bool accepting = false, receiving = false;
  bool accept_armed = false, recv_armed = false, send_armed = false, connect_armed = false;
  PendingSend send;
  msghdr msg{};
  sockaddr_storage connect_addr{};
  // Invariant 5: received while paused (or behind such bytes), not yet delivered.
  std::string held;
  int32_t held_end = 1;  // <= 0: the end of stream / error that came after `held`
  bool held_queued = false;  // in held_ready_
};

absl::StatusOr<std::unique_ptr<ProactorBackend>> ProactorBackend::Create(ProactorOptions options) {
  auto ring = std::make_unique<Ring>();
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
  p.cq_entries = options.cq_entries;
  int r = io_uring_queue_init_params(options.sq_entries, &ring->ring, &p);
  if (r == -EINVAL) {  // an older kernel without single-issuer rings: plain flags
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = options.cq_entries;
    r = io_uring_queue_init_params(options.sq_entries, &ring->ring, &p);
  } else if (r == 0) {
    ring->needs_enable = true;
  }
  if (r < 0) return Unavailable("io_uring_setup", -r);
  ring->initialized = true;
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
    return absl::UnimplementedError("io_uring: the kernel lacks IORING_FEAT_EXT_ARG/NODROP");
  }

  io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring);
  if (probe == nullptr) return absl::UnimplementedError("io_uring: opcode probe failed");
  const int needed[] = {IORING_OP_ACCEPT,  IORING_OP_RECV,         IORING_OP_SENDMSG,
                        IORING_OP_SEND,    IORING_OP_CONNECT,      IORING_OP_ASYNC_CANCEL,
                        IORING_OP_READ};
  for (int op : needed) {
    if (!io_uring_opcode_supported(probe, op)) {
      io_uring_free_probe(probe);
      return absl::UnimplementedError(absl::StrCat("io_uring: opcode ", op, " unsupported"));
    }
  }
  io_uring_free_probe(probe);

  // The provided buffer ring for multishot receive (kernel 5.19+; mmap'ed by hand: liburing
  // 2.3 has no io_uring_setup_buf_ring).
  const unsigned n = options.recv_buffers;
  if (n == 0 || (n & (n - 1)) != 0) return absl::InvalidArgumentError("recv_buffers: power of 2");
  ring->buf_ring_bytes = n * sizeof(io_uring_buf);
  void* br = ::mmap(nullptr, ring->buf_ring_bytes, PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (br == MAP_FAILED) return absl::ResourceExhaustedError("mmap for the buffer ring");
  ring->buf_ring = static_cast<io_uring_buf_ring*>(br);
  ring->buffers_bytes = static_cast<size_t>(n) * options.recv_buffer_size;
  void* bufs = ::mmap(nullptr, ring->buffers_bytes, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (bufs == MAP_FAILED) return absl::ResourceExhaustedError("mmap for receive buffers");
  ring->buffers = static_cast<char*>(bufs);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = n;
  reg.bgid = kBufferGroup;
  r = io_uring_register_buf_ring(&ring->ring, &reg, 0);
  if (r < 0) return Unavailable("io_uring provided buffer ring (kernel 5.19+)", -r);
  io_uring_buf_ring_init(ring->buf_ring);
  ring->buffer_mask = n - 1;
  for (unsigned bid = 0; bid < n; ++bid) {
    io_uring_buf_ring_add(ring->buf_ring,
                          ring->buffers + static_cast<size_t>(bid) * options.recv_buffer_size,
                          options.recv_buffer_size, bid, ring->buffer_mask, bid);
  }
  io_uring_buf_ring_advance(ring->buf_ring, n);

  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  return std::unique_ptr<ProactorBackend>(new ProactorBackend(options, std::move(ring), wake_fd));
}

absl::Status ProbeProactor() {
  ProactorOptions small;
  small.sq_entries = 8;
  small.cq_entries = 16;
  small.recv_buffers = 2;
  small.recv_buffer_size = 64;
  auto backend = ProactorBackend::Create(small);
  return backend.ok() ? absl::OkStatus() : backend.status();
}

ProactorBackend::ProactorBackend(ProactorOptions options, std::unique_ptr<Ring> ring, int wake_fd)
    : options_(options), ring_(std::move(ring)), wake_fd_(wake_fd) {}

ProactorBackend::~ProactorBackend() {
  ring_.reset();  // tears down every request still in the kernel
  ::close(wake_fd_);
}

void ProactorBackend::BindToCurrentThread() {
  IoBackend::BindToCurrentThread();
  if (ring_->needs_enable) {
    // liburing 2.3 declares io_uring_enable_rings but does not export it: the raw syscall.
    const int r = static_cast<int>(::syscall(__NR_io_uring_register, ring_->ring.ring_fd,
                                             IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
    if (r < 0) {
      Log(absl::LogSeverity::kFatal, "enabling the io_uring failed", {{"error", std::strerror(errno)}});
    }
    ring_->needs_enable = false;
  }
  ArmWake();
}

void ProactorBackend::ArmWake() {
  io_uring_sqe* sqe = ring_->Sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, UserData(wake_fd_, kWakeReq));
}

void ProactorBackend::Kick() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

ProactorBackend::FdState& ProactorBackend::StateFor(int fd, IoHandler* handler) {
  if (static_cast<size_t>(fd) >= fds_.size())
    fds_.resize(std::max<size_t>(fd + 1, fds_.size() * 2));
  FdState& st = fds_[fd];
  if (!st.open) {
    st = FdState{};
    st.open = true;
    ++open_fds_;
    st.handler = handler;
  }
  return st;
}

void ProactorBackend::ArmAccept(int fd) {
  io_uring_sqe* sqe = ring_->Sqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, UserData(fd, kAcceptReq));
  fds_[fd].accept_armed = true;
}

void ProactorBackend::ArmRecv(int fd) {
  io_uring_sqe* sqe = ring_->Sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(fd, kRecvReq));
  fds_[fd].recv_armed = true;
}

void ProactorBackend::Accept(int listen_fd, IoHandler* handler) {
  FdState& st = StateFor(listen_fd, handler);
  st.accepting = true;
  if (!st.accept_armed) ArmAccept(listen_fd);
}

void ProactorBackend::Recv(int fd, IoHandler* handler) {
  FdState& st = StateFor(fd, handler);
  st.receiving = true;
  if (!st.held.empty() || st.held_end <= 0) {
    QueueHeld(fd, st);  // delivered from the next Poll (contract point 6), then re-armed
    return;
  }
  if (!st.recv_armed) ArmRecv(fd);
}

void ProactorBackend::QueueHeld(int fd, FdState& st) {
  if (st.held_queued) return;
  st.held_queued = true;
  held_ready_.push_back(fd);
}

int ProactorBackend::DeliverHeld() {
  if (held_ready_.empty()) return 0;
  std::vector<int> ready;
  ready.swap(held_ready_);
  int delivered = 0;
  for (int fd : ready) {
    if (!fds_[fd].held_queued) continue;  // closed (and its state reset) since it was queued
    fds_[fd].held_queued = false;
    std::string held = std::move(fds_[fd].held);
    fds_[fd].held.clear();
    size_t off = 0;
    // The handler may pause or close at any completion: re-check the state before each.
    while (off < held.size() && fds_[fd].open && !fds_[fd].closing && fds_[fd].receiving) {
      const size_t n = std::min<size_t>(held.size() - off, options_.recv_buffer_size);
      Deliver(fd, fds_[fd], Completion{IoOp::kRecv, static_cast<int32_t>(n), held.data() + off, true});
      off += n;
      ++delivered;
    }
    FdState& st = fds_[fd];
    if (!st.open || st.closing) continue;
    if (off < held.size()) {  // paused again: keep the rest ahead of anything held meanwhile
      st.held.insert(0, held, off, std::string::npos);
      continue;
    }
    if (!st.receiving) continue;
    if (!st.held.empty()) {  // more arrived behind the held bytes while they were delivered
      QueueHeld(fd, st);
      continue;
    }
    if (st.held_end <= 0) {
      const int32_t end = st.held_end;
      st.held_end = 1;
      st.receiving = false;
      Deliver(fd, st, Completion{IoOp::kRecv, end, nullptr, false});
      ++delivered;
      continue;
    }
    if (!st.recv_armed) ArmRecv(fd);
  }
  return delivered;
}

void ProactorBackend::StopRecv(int fd) {
  if (static_cast<size_t>(fd) >= fds_.size()) return;
  FdState& st = fds_[fd];
  if (!st.receiving) return;
  st.receiving = false;
  if (st.recv_armed) {
    io_uring_sqe* sqe = ring_->Sqe();
    io_uring_prep_cancel64(sqe, UserData(fd, kRecvReq), 0);
    io_uring_sqe_set_data64(sqe, UserData(fd, kCancelReq));
  }
}

void ProactorBackend::Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) {
  FdState& st = StateFor(fd, handler);
  std::memcpy(&st.connect_addr, addr, std::min<size_t>(len, sizeof(st.connect_addr)));
  io_uring_sqe* sqe = ring_->Sqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&st.connect_addr), len);
  io_uring_sqe_set_data64(sqe, UserData(fd, kConnectReq));
  st.connect_armed = true;
}

void ProactorBackend::Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) {
  FdState& st = StateFor(fd, handler);
  st.send.Start(iov, iovcnt);
  SubmitSend(fd, st);
}

void ProactorBackend::SubmitSend(int fd, FdState& st) {
  iovec* chunks = st.send.rest();
  const size_t count = std::min<size_t>(st.send.rest_count(), IOV_MAX);
  for (size_t i = 0; i < count; ++i) unsubmitted_send_bytes_ += chunks[i].iov_len;
  io_uring_sqe* sqe = ring_->Sqe();
  if (count == 1) {
    // One chunk (a reply, most often): IORING_OP_SEND spares the kernel sendmsg's copy and
    // check of the message header and iovec array.
    io_uring_prep_send(sqe, fd, chunks[0].iov_base, chunks[0].iov_len, MSG_NOSIGNAL);
  } else {
    st.msg = msghdr{};
    st.msg.msg_iov = chunks;
    st.msg.msg_iovlen = count;
    io_uring_prep_sendmsg(sqe, fd, &st.msg, MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(sqe, UserData(fd, kSendReq));
  st.send_armed = true;
  ++sends_in_flight_;
  ++unsubmitted_sends_;
}

void ProactorBackend::Close(int fd, IoHandler* handler) {
  if (static_cast<size_t>(fd) < fds_.size() && fds_[fd].open) {
    FdState& st = fds_[fd];
    st.closing = true;
    st.accepting = st.receiving = false;
    if (st.accept_armed || st.recv_armed || st.send_armed || st.connect_armed) {
      io_uring_sqe* sqe = ring_->Sqe();
      io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, UserData(fd, kCancelReq));
      return;  // MaybeFinishClose runs as their CQEs arrive
    }
    MaybeFinishClose(fd, st);
    return;
  }
  Count(syscalls_);
  ::close(fd);
  Defer(fd, handler, 0, Completion{IoOp::kClose, 0});
}

void ProactorBackend::MaybeFinishClose(int fd, FdState& st) {
  if (!st.closing || st.accept_armed || st.recv_armed || st.send_armed || st.connect_armed) return;
  IoHandler* handler = st.handler;
  st = FdState{};
  --open_fds_;
  Count(syscalls_);
  ::close(fd);  // no request of ours refers to fd any more (invariant 1)
  Defer(fd, handler, 0, Completion{IoOp::kClose, 0});
}

bool ProactorBackend::Deliver(int fd, FdState& st, const Completion& c) {
  Count(completions_);
  if (c.result < 0) Count(errors_);
  st.handler->OnCompletion(fd, c);
  return st.open && !st.closing;
}

void ProactorBackend::OnAcceptCqe(int fd, FdState& st, int32_t res, bool final) {
  if (final) st.accept_armed = false;
  if (st.closing) {
    if (res >= 0) ::close(res);
    return;
  }
  if (res >= 0) {
    if (!Deliver(fd, st, Completion{IoOp::kAccept, res, nullptr, true})) return;
    if (final && st.accepting) ArmAccept(fd);
    return;
  }
  if (res == -ECANCELED) {  // our own cancellation (below); re-arm if Accept came since
    if (final && st.accepting) ArmAccept(fd);
    return;
  }
  // EMFILE, ENFILE...: end the accept so its owner backs off and re-arms. Newer kernels keep
  // a multishot accept armed after such an error (F_MORE): cancel it, or it would fire again
  // at every new connection.
  if (!final) {
    io_uring_sqe* sqe = ring_->Sqe();
    io_uring_prep_cancel64(sqe, UserData(fd, kAcceptReq), 0);
    io_uring_sqe_set_data64(sqe, UserData(fd, kCancelReq));
  }
  st.accepting = false;
  Deliver(fd, st, Completion{IoOp::kAccept, res, nullptr, false});
}

void ProactorBackend::OnRecvCqe(int fd, FdState& st, int32_t res, uint32_t flags, bool final) {
  if (final) st.recv_armed = false;
  if (res > 0) {
    const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (!st.closing) {
      const char* data = ring_->buffers + static_cast<size_t>(bid) * options_.recv_buffer_size;
      if (st.receiving && st.held.empty()) {
        Deliver(fd, st, Completion{IoOp::kRecv, res, data, true});
      } else {  // paused (or behind held bytes): keep it for Recv (invariant 5)
        st.held.append(data, res);
        if (st.receiving) QueueHeld(fd, st);
      }
    }
    ring_->ReturnBuffer(bid, options_.recv_buffer_size);  // invariant 3
    if (final && st.receiving && st.open && !st.closing && !st.recv_armed && st.held_end > 0) {
      ArmRecv(fd);
    }
    return;
  }
  if (st.closing) return;
  if (res == -ENOBUFS || res == -ECANCELED) {  // out of buffers, or a StopRecv
    if (final && st.receiving && !st.recv_armed && st.held_end > 0) ArmRecv(fd);
    return;
  }
  // The end of stream (0) or an error.
  if (!st.receiving || !st.held.empty()) {  // after what is held: delivered by DeliverHeld
    st.held_end = res;
    if (st.receiving) QueueHeld(fd, st);
    return;
  }
  st.receiving = false;
  Deliver(fd, st, Completion{IoOp::kRecv, res, nullptr, false});
}

void ProactorBackend::OnSendCqe(int fd, FdState& st, int32_t res) {
  st.send_armed = false;
  --sends_in_flight_;
  if (st.closing) return;
  if (res < 0) {
    Deliver(fd, st, Completion{IoOp::kSend, res});
    return;
  }
  st.send.Advance(static_cast<size_t>(res));
  if (!st.send.done()) {
    SubmitSend(fd, st);  // a short send: the rest
    return;
  }
  Deliver(
      fd, st,
      Completion{IoOp::kSend, static_cast<int32_t>(std::min<int64_t>(st.send.total, INT32_MAX))});
}

void ProactorBackend::HandleCqe(uint64_t user_data, int32_t res, uint32_t flags) {
  const int fd = static_cast<int>(user_data >> 8);
  const Kind kind = static_cast<Kind>(user_data & 0xff);
  if (kind == kWakeReq) {
    ArmWake();
    return;
  }
  if (kind == kCancelReq || static_cast<size_t>(fd) >= fds_.size()) return;
  FdState& st = fds_[fd];
  const bool final = !(flags & IORING_CQE_F_MORE);
  switch (kind) {
    case kAcceptReq:
      OnAcceptCqe(fd, st, res, final);
      break;
    case kRecvReq:
      OnRecvCqe(fd, st, res, flags, final);
      break;
    case kSendReq:
      OnSendCqe(fd, st, res);
      break;
    case kConnectReq:
      st.connect_armed = false;
      if (!st.closing) Deliver(fd, st, Completion{IoOp::kConnect, res});
      break;
    default:
      break;
  }
  if (st.closing) MaybeFinishClose(fd, st);
}

int ProactorBackend::ReapCompletions() {
  // In batches; handlers may queue new requests meanwhile (sent at the next Poll).
  io_uring* ring = &ring_->ring;
  io_uring_cqe* cqes[256];
  int handled = 0;
  unsigned got;
  while ((got = io_uring_peek_batch_cqe(ring, cqes, 256)) > 0) {
    for (unsigned i = 0; i < got; ++i) {
      const uint64_t user_data = cqes[i]->user_data;
      const int32_t res = cqes[i]->res;
      const uint32_t flags = cqes[i]->flags;
      io_uring_cq_advance(ring, 1);  // free the slot before the handler runs
      HandleCqe(user_data, res, flags);
    }
    handled += static_cast<int>(got);
  }
  return handled;
}

int ProactorBackend::PollReady() {
  int handled = RunPosted();
  handled += DeliverDeferred();
  handled += DeliverHeld();
  return handled + ReapCompletions();
}

int ProactorBackend::Poll(absl::Duration timeout) {
  Count(polls_);
  int handled = RunPosted();
  handled += DeliverDeferred();
  handled += DeliverHeld();
  const bool ready = handled > 0 || HasDeferred() || HasPosted() || !held_ready_.empty();
  io_uring* ring = &ring_->ring;
  Count(syscalls_);
  unsubmitted_send_bytes_ = 0;
  unsubmitted_sends_ = 0;
  turns_since_poll_ = 0;
  if (ready || timeout <= absl::ZeroDuration()) {
    io_uring_submit_and_get_events(ring);
  } else if (BeginWait()) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (timeout != absl::InfiniteDuration()) {
      ts.tv_sec = absl::ToInt64Seconds(timeout);
      ts.tv_nsec = absl::ToInt64Nanoseconds(timeout - absl::Seconds(ts.tv_sec));
      tsp = &ts;
    }
    io_uring_submit_and_wait_timeout(ring, &cqe, 1, tsp, nullptr);
    EndWait();
    Count(waits_);
  } else {
    io_uring_submit_and_get_events(ring);
  }
  handled += ReapCompletions();
  handled += DeliverDeferred();
  handled += DeliverHeld();
  return handled;
}

}  // namespace troupe
