#include "io/testing/fault_injecting_backend.h"

#include <algorithm>

namespace troupe {

void FaultInjectingBackend::BindToCurrentThread() {
  inner_->BindToCurrentThread();
  IoBackend::BindToCurrentThread();  // Current() is the wrapper
}

void FaultInjectingBackend::Accept(int listen_fd, IoHandler* handler) {
  handlers_[listen_fd] = handler;
  if (accept_errors_left_ > 0) {
    --accept_errors_left_;
    Defer(listen_fd, handler, closes_[listen_fd], Completion{IoOp::kAccept, -accept_error_});
    return;
  }
  inner_->Accept(listen_fd, this);
}

void FaultInjectingBackend::Connect(int fd, const sockaddr* addr, socklen_t len,
                                    IoHandler* handler) {
  handlers_[fd] = handler;
  inner_->Connect(fd, addr, len, this);
}

void FaultInjectingBackend::Recv(int fd, IoHandler* handler) {
  handlers_[fd] = handler;
  inner_->Recv(fd, this);
}

void FaultInjectingBackend::Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) {
  handlers_[fd] = handler;
  if (send_error_ != 0) {
    Defer(fd, handler, closes_[fd], Completion{IoOp::kSend, -send_error_});
    send_error_ = 0;
    return;
  }
  inner_->Send(fd, iov, iovcnt, this);
}

void FaultInjectingBackend::Close(int fd, IoHandler* handler) {
  handlers_[fd] = handler;
  ++closes_[fd];  // injected completions queued before must not outlive it (contract point 5)
  inner_->Close(fd, this);
}

void FaultInjectingBackend::OnCompletion(int fd, const Completion& c) {
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) return;
  IoHandler* handler = it->second;
  if (c.op == IoOp::kClose) handlers_.erase(it);
  if (c.op == IoOp::kRecv && c.result > 0 && split_ > 0) {
    for (int32_t off = 0; off < c.result;) {
      const int32_t n = std::min<int32_t>(static_cast<int32_t>(split_), c.result - off);
      handler->OnCompletion(fd, Completion{IoOp::kRecv, n, c.data + off, c.more});
      off += n;
      auto again = handlers_.find(fd);  // the handler may have closed the fd
      if (again == handlers_.end() || again->second != handler) return;
    }
    return;
  }
  handler->OnCompletion(fd, c);
}

bool FaultInjectingBackend::DeferredStillWanted(const Deferred& d) const {
  auto it = closes_.find(d.fd);
  return it != closes_.end() && it->second == d.generation;
}

int FaultInjectingBackend::PollReady() {
  const int handled = RunPosted() + DeliverDeferred();
  return handled + inner_->PollReady();
}

int FaultInjectingBackend::Poll(absl::Duration timeout) {
  int handled = RunPosted() + DeliverDeferred();
  if (handled > 0 || HasDeferred() || HasPosted()) timeout = absl::ZeroDuration();
  const bool waiting = timeout != absl::ZeroDuration() && BeginWait();
  if (!waiting) timeout = absl::ZeroDuration();
  handled += inner_->Poll(timeout);
  if (waiting) EndWait();
  return handled;
}

}  // namespace troupe
