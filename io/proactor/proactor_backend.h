// ProactorBackend: IoBackend over io_uring (through liburing); the kernel performs the I/O.
//
// What it uses to save syscalls (a syscall costs ~1.1 us on our VMs; a batched io_uring
// operation ~85 ns): every operation queued during a loop turn goes to the kernel in one
// io_uring_enter, together with the wait; accept is multishot (one request for all
// connections); receive is multishot into a provided buffer ring (no request per read, no
// buffer per idle connection; bytes the kernel took after StopRecv are kept, not delivered,
// until Recv - a pause is as hard as epoll's); the ring is
// single-issuer with deferred task running, so completions are processed only when the owner
// asks for them. Sends copy: zero-copy sends (SENDMSG_ZC) were tried and left out - a close
// must then wait for the kernel's buffer notification, which a peer that stops reading never
// lets come. Kernel features are probed once (ProbeProactor) and required: without them
// the selector falls back to epoll.
//
// Thread safety: as IoBackend. The ring is enabled by BindToCurrentThread(): only that thread
// may then submit.
#ifndef IO_PROACTOR_PROACTOR_BACKEND_H_
#define IO_PROACTOR_PROACTOR_BACKEND_H_

#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "io/backend.h"

namespace troupe {

struct ProactorOptions {
  unsigned sq_entries = 512;
  unsigned cq_entries = 8192;
  unsigned recv_buffers = 256;        // provided buffers (power of two)
  unsigned recv_buffer_size = 16384;  // bytes each
};

// OK if io_uring works here with everything ProactorBackend needs; otherwise UNIMPLEMENTED
// saying why (io_uring_setup refused: kernel.io_uring_disabled or a seccomp filter; or a
// missing feature: multishot accept/recv, provided buffer rings). Runs on the calling thread.
absl::Status ProbeProactor();

class ProactorBackend final : public IoBackend {
 public:
  // UNIMPLEMENTED if the ring cannot be created (see ProbeProactor).
  static absl::StatusOr<std::unique_ptr<ProactorBackend>> Create(ProactorOptions options = {});
  ~ProactorBackend() override;

  std::string_view name() const override { return "io_uring"; }
  void BindToCurrentThread() override;  // enables the ring for this thread; aborts on failure
  void Accept(int listen_fd, IoHandler* handler) override;
  void Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) override;
  void Recv(int fd, IoHandler* handler) override;
  void StopRecv(int fd) override;
  void Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) override;
  void Close(int fd, IoHandler* handler) override;
  int Poll(absl::Duration timeout) override;
  int PollReady() override;
  // Keeps a busy worker's output flowing: sends waiting in the ring past a threshold are
  // submitted now, and while sends are in flight the kernel is entered every few turns (their
  // completions, and the rest of a short send, need it).
  bool WantsPoll() override {
    if (unsubmitted_send_bytes_ >= kEagerSubmitBytes || unsubmitted_sends_ >= kEagerSubmitSends) {
      return true;
    }
    return sends_in_flight_ > 0 && ++turns_since_poll_ >= kTurnsBetweenSendPolls;
  }

 protected:
  void Kick() override;

 private:
  static constexpr size_t kEagerSubmitBytes = 64 << 10;
  static constexpr int kEagerSubmitSends = 16;
  static constexpr int kTurnsBetweenSendPolls = 8;
  size_t unsubmitted_send_bytes_ = 0;
  int unsubmitted_sends_ = 0;
  int sends_in_flight_ = 0;
  int turns_since_poll_ = 0;

  struct Ring;
  struct FdState;

  ProactorBackend(ProactorOptions options, std::unique_ptr<Ring> ring, int wake_fd);
  FdState& StateFor(int fd, IoHandler* handler);
  void ArmAccept(int fd);
  void ArmRecv(int fd);
  void SubmitSend(int fd, FdState& st);
  void ArmWake();
  void HandleCqe(uint64_t user_data, int32_t res, uint32_t flags);
  void OnAcceptCqe(int fd, FdState& st, int32_t res, bool final);
  void OnRecvCqe(int fd, FdState& st, int32_t res, uint32_t flags, bool final);
  void OnSendCqe(int fd, FdState& st, int32_t res);
  void MaybeFinishClose(int fd, FdState& st);
  void QueueHeld(int fd, FdState& st);
  int DeliverHeld();  // invariant 5 (proactor_backend.cc); returns completions delivered
  bool Deliver(int fd, FdState& st, const Completion& c);
  int ReapCompletions();

  const ProactorOptions options_;
  std::unique_ptr<Ring> ring_;
  const int wake_fd_;
  uint64_t wake_value_ = 0;
  std::deque<FdState> fds_;  // indexed by fd; stable references on growth
  std::vector<int> held_ready_;  // fds whose held bytes Recv asked for
};

}  // namespace troupe

#endif  // IO_PROACTOR_PROACTOR_BACKEND_H_
