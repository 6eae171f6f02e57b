// FaultInjectingBackend: the unit-test fake. It wraps a real IoBackend, passes the conformance
// suite like any backend, and on request injects what is hard to provoke from outside:
// an accept that fails (EMFILE), a send that fails (ECONNRESET) after a given number of bytes,
// and receives split into tiny chunks (every framer boundary case).
//
// Thread safety: as IoBackend; the Inject* setters on the owner thread.
#ifndef IO_TESTING_FAULT_INJECTING_BACKEND_H_
#define IO_TESTING_FAULT_INJECTING_BACKEND_H_

#include <memory>
#include <unordered_map>

#include "io/backend.h"

namespace troupe {

class FaultInjectingBackend final : public IoBackend, private IoHandler {
 public:
  explicit FaultInjectingBackend(std::unique_ptr<IoBackend> inner) : inner_(std::move(inner)) {}

  // The next `times` Accepts each end at once with -err (more == false) instead of a connection.
  void InjectAcceptError(int err, int times = 1) {
    accept_error_ = err;
    accept_errors_left_ = times;
  }
  // The next Send on any fd fails with -err (nothing is sent).
  void InjectSendError(int err) { send_error_ = err; }
  // Received bytes are delivered in chunks of at most `bytes` (0: as they come).
  void SplitReceives(size_t bytes) { split_ = bytes; }

  std::string_view name() const override { return inner_->name(); }
  absl::StatusOr<int> Listen(const SocketAddress& address, int backlog) override {
    return inner_->Listen(address, backlog);
  }
  absl::StatusOr<int> NewSocket(int family) override { return inner_->NewSocket(family); }
  absl::StatusOr<SocketAddress> LocalAddress(int fd) override { return inner_->LocalAddress(fd); }
  void SetNoDelay(int fd) override { inner_->SetNoDelay(fd); }
  void Discard(int fd) override { inner_->Discard(fd); }
  void BindToCurrentThread() override;
  void Accept(int listen_fd, IoHandler* handler) override;
  void Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) override;
  void Recv(int fd, IoHandler* handler) override;
  void StopRecv(int fd) override { inner_->StopRecv(fd); }
  void Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) override;
  void Close(int fd, IoHandler* handler) override;
  int Poll(absl::Duration timeout) override;
  int PollReady() override;

 protected:
  void Kick() override { inner_->Wake(); }

 private:
  void OnCompletion(int fd, const Completion& c) override;
  // Injected completions are deferred; one queued before its fd's Close is dropped.
  bool DeferredStillWanted(const Deferred& d) const override;

  std::unique_ptr<IoBackend> inner_;
  std::unordered_map<int, IoHandler*> handlers_;
  std::unordered_map<int, uint64_t> closes_;  // per fd: Close() calls so far
  int accept_error_ = 0;
  int accept_errors_left_ = 0;
  int send_error_ = 0;
  size_t split_ = 0;
};

}  // namespace troupe

#endif  // IO_TESTING_FAULT_INJECTING_BACKEND_H_
