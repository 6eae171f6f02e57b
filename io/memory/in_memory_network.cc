#include "io/memory/in_memory_network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace troupe {
namespace {

constexpr size_t kMaxDelivery = 64 << 10;  // bytes in one kRecv completion at most
constexpr int kMaxPerPoll = 256;           // completions one Poll delivers at most

int PortOf(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  }
  if (addr->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  }
  return -1;
}

}  // namespace

std::shared_ptr<InMemoryNetwork> InMemoryNetwork::Create(InMemoryNetworkOptions options) {
  return std::shared_ptr<InMemoryNetwork>(new InMemoryNetwork(std::move(options)));
}

InMemoryNetwork::InMemoryNetwork(InMemoryNetworkOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &MonotonicClock::Get()),
      random_(options_.faults.seed),
      fd_limit_(options_.fd_limit) {}

std::unique_ptr<InMemoryBackend> InMemoryNetwork::NewBackend() {
  return std::unique_ptr<InMemoryBackend>(new InMemoryBackend(shared_from_this()));
}

InMemoryNetwork::Socket* InMemoryNetwork::Get(uint64_t id) {
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : &it->second;
}

InMemoryNetwork::Socket* InMemoryNetwork::Find(int fd) {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : Get(it->second);
}

InMemoryNetwork::Socket& InMemoryNetwork::NewSocketLocked(Socket::Kind kind, bool client) {
  const uint64_t id = next_id_++;
  Socket& s = sockets_[id];
  s.id = id;
  s.kind = kind;
  s.client = client;
  return s;
}

absl::StatusOr<int> InMemoryNetwork::TakeFdLocked(Socket& s) {
  if (s.client) {
    s.fd = next_client_fd_++;
  } else {
    if (fds_in_use_ >= fd_limit_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of descriptors (the in-memory network's limit is ", fd_limit_, ")"));
    }
    if (!free_fds_.empty()) {
      s.fd = *free_fds_.begin();
      free_fds_.erase(free_fds_.begin());
    } else {
      s.fd = next_fd_++;
    }
    ++fds_in_use_;
  }
  fds_[s.fd] = s.id;
  return s.fd;
}

void InMemoryNetwork::ForgetLocked(Socket& s) {
  if (s.fd >= 0) {
    fds_.erase(s.fd);
    if (!s.client) {
      free_fds_.insert(s.fd);
      --fds_in_use_;
    }
  }
  if (s.owner != nullptr) --s.owner->owned_;
  sockets_.erase(s.id);
}

void InMemoryNetwork::Own(Socket& s, InMemoryBackend* owner, IoHandler* handler) {
  if (s.owner != owner) {
    if (s.owner != nullptr) --s.owner->owned_;
    ++owner->owned_;
    s.owner = owner;
    s.queued = false;  // an entry left in the old owner's list is skipped there
  }
  s.handler = handler;
}

void InMemoryNetwork::Wake(Socket& s) {
  if (s.client) {
    client_cv_.notify_all();
    return;
  }
  if (s.owner == nullptr || s.queued) return;
  s.queued = true;
  s.owner->ready_.push_back(s.id);
  s.owner->cv_.notify_one();
}

bool InMemoryNetwork::Chance(double p) {
  return p > 0 && std::uniform_real_distribution<double>(0, 1)(random_) < p;
}

void InMemoryNetwork::ResetLocked(Socket& s) {
  ++stats_.resets;
  Socket* peer = Get(s.peer);
  for (Socket* end : {&s, peer}) {
    if (end == nullptr) continue;
    end->reset = true;
    end->peer = 0;
    end->in.clear();
    end->in_bytes = 0;
    Wake(*end);
  }
}

void InMemoryNetwork::CloseLocked(Socket& s) {
  if (s.kind == Socket::Kind::kListener) {
    listeners_.erase(s.port);
    for (uint64_t waiting : s.backlog) {
      if (Socket* w = Get(waiting)) {
        ResetLocked(*w);
        ForgetLocked(*w);
      }
    }
    s.backlog.clear();
    return;
  }
  if (Socket* peer = Get(s.peer)) {
    if (s.in_bytes > 0) {
      ResetLocked(s);  // unread bytes: TCP answers with a reset
    } else {
      peer->fin = true;
      peer->peer = 0;
      Wake(*peer);
    }
  }
}

size_t InMemoryNetwork::ReadyBytes(const Socket& s, int64_t now) const {
  size_t n = 0;
  for (const Chunk& c : s.in) {
    if (c.ready_ns > now) break;
    n += c.bytes.size();
  }
  return n;
}

size_t InMemoryNetwork::TakeLocked(Socket& s, size_t max, int64_t now, std::string* out) {
  out->clear();
  while (out->size() < max && !s.in.empty() && s.in.front().ready_ns <= now) {
    Chunk& c = s.in.front();
    const size_t n = std::min(max - out->size(), c.bytes.size());
    out->append(c.bytes, 0, n);
    if (n == c.bytes.size()) {
      s.in.pop_front();
    } else {
      c.bytes.erase(0, n);
    }
  }
  s.in_bytes -= out->size();
  if (!out->empty()) {
    if (Socket* peer = Get(s.peer); peer != nullptr && (peer->sending || peer->client)) {
      Wake(*peer);  // room for its stalled send
    }
  }
  return out->size();
}

size_t InMemoryNetwork::PushLocked(Socket& to, const char* data, size_t n, int64_t now) {
  const size_t room = options_.buffer_bytes - std::min(options_.buffer_bytes, to.in_bytes);
  n = std::min(n, room);
  if (n == 0) return 0;
  int64_t ready = now;
  if (options_.faults.max_delay > absl::ZeroDuration()) {
    ready += std::uniform_int_distribution<int64_t>(
        0, absl::ToInt64Nanoseconds(options_.faults.max_delay))(random_);
  }
  ready = std::max(ready, last_ready_ns_);  // a later send is never readable before an earlier
  last_ready_ns_ = ready;
  to.in.push_back({std::string(data, n), ready});
  to.in_bytes += n;
  stats_.bytes += n;
  Wake(to);
  return n;
}

bool InMemoryNetwork::PushSendLocked(Socket& s, int64_t now) {
  Socket* peer = Get(s.peer);
  if (peer == nullptr) return false;
  while (s.send_index < s.send_iov.size()) {
    const iovec& v = s.send_iov[s.send_index];
    const size_t left = v.iov_len - s.send_offset;
    const size_t n = PushLocked(*peer, static_cast<const char*>(v.iov_base) + s.send_offset, left,
                                now);
    s.send_offset += n;
    if (s.send_offset < v.iov_len) return false;  // the peer's buffer is full
    ++s.send_index;
    s.send_offset = 0;
  }
  return true;
}

bool InMemoryNetwork::HasWork(const Socket& s, int64_t now) const {
  if (s.connect_pending) return true;
  if (s.kind == Socket::Kind::kListener) return s.accepting && !s.backlog.empty();
  if (s.recv_armed && !s.dropped &&
      (s.reset || ReadyBytes(s, now) > 0 || (s.fin && s.in.empty()))) {
    return true;
  }
  if (s.sending) {
    if (s.reset || s.peer == 0) return true;
    auto peer = sockets_.find(s.peer);
    return peer != sockets_.end() && peer->second.in_bytes < options_.buffer_bytes;
  }
  return false;
}

bool InMemoryNetwork::NextCompletion(Socket& s, int64_t now, std::string* recv_buffer, int* fd,
                                     IoHandler** handler, Completion* c) {
  *fd = s.fd;
  *handler = s.handler;
  if (s.connect_pending) {
    s.connect_pending = false;
    *c = Completion{IoOp::kConnect, s.connect_result};
    return true;
  }
  if (s.kind == Socket::Kind::kListener) {
    if (!s.accepting || s.backlog.empty()) return false;
    Socket* waiting = Get(s.backlog.front());
    if (waiting == nullptr) {
      s.backlog.pop_front();
      return false;
    }
    absl::StatusOr<int> taken = TakeFdLocked(*waiting);
    if (!taken.ok()) {  // the connection stays in the backlog for a later accept
      s.accepting = false;
      *c = Completion{IoOp::kAccept, -EMFILE};
      return true;
    }
    s.backlog.pop_front();
    *c = Completion{IoOp::kAccept, *taken, nullptr, true};
    return true;
  }
  if (s.recv_armed && !s.dropped) {
    if (s.reset) {
      s.recv_armed = false;
      *c = Completion{IoOp::kRecv, -ECONNRESET};
      return true;
    }
    size_t max = kMaxDelivery;
    if (options_.faults.max_chunk > 0) {
      max = std::uniform_int_distribution<size_t>(1, options_.faults.max_chunk)(random_);
    }
    if (TakeLocked(s, max, now, recv_buffer) > 0) {
      *c = Completion{IoOp::kRecv, static_cast<int32_t>(recv_buffer->size()),
                      recv_buffer->data(), true};
      if (Chance(options_.faults.reset)) ResetLocked(s);
      return true;
    }
    if (s.fin && s.in.empty()) {
      s.recv_armed = false;
      *c = Completion{IoOp::kRecv, 0};
      return true;
    }
  }
  if (s.sending) {
    if (s.reset || s.peer == 0) {
      s.sending = false;
      *c = Completion{IoOp::kSend, s.reset ? -ECONNRESET : -EPIPE};
      return true;
    }
    if (PushSendLocked(s, now)) {
      s.sending = false;
      *c = Completion{IoOp::kSend, static_cast<int32_t>(s.send_total)};
      return true;
    }
  }
  return false;
}

absl::StatusOr<int> InMemoryNetwork::ClientConnect(int port) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listeners_.find(port);
  Socket* listener = it == listeners_.end() ? nullptr : Get(it->second);
  if (listener == nullptr || listener->backlog.size() >= listener->backlog_max ||
      Chance(options_.faults.refuse_connect)) {
    ++stats_.refused;
    return absl::UnavailableError(absl::StrCat("connect to port ", port, ": refused"));
  }
  ++stats_.connects;
  Socket& client = NewSocketLocked(Socket::Kind::kStream, true);
  Socket& server = NewSocketLocked(Socket::Kind::kStream, false);
  server.port = port;
  client.peer = server.id;
  server.peer = client.id;
  absl::StatusOr<int> fd = TakeFdLocked(client);  // client ends are never out of descriptors
  listener->backlog.push_back(server.id);  // std::map: inserting moved no socket
  Wake(*listener);
  return fd;
}

bool InMemoryNetwork::ClientSend(int fd, std::string_view bytes, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  while (!bytes.empty()) {
    Socket* s = Find(fd);
    if (s == nullptr || s->reset) return false;
    Socket* peer = Get(s->peer);
    if (peer == nullptr) return false;
    const size_t n = PushLocked(*peer, bytes.data(), bytes.size(), NowNs());
    bytes.remove_prefix(n);
    if (n == 0 && client_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return false;
  }
  return true;
}

std::string InMemoryNetwork::ClientRecv(int fd, size_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::string got, part;
  while (got.size() < n) {
    Socket* s = Find(fd);
    if (s == nullptr || s->reset) break;
    if (!s->dropped && TakeLocked(*s, n - got.size(), NowNs(), &part) > 0) {
      got += part;
      continue;
    }
    if (s->fin && s->in.empty()) break;
    auto until = deadline;
    if (!s->in.empty() && !s->dropped) {  // delayed bytes: look again when the first is due
      until = std::min(until, std::chrono::steady_clock::now() +
                                  std::chrono::nanoseconds(s->in.front().ready_ns - NowNs()));
    }
    if (client_cv_.wait_until(lock, until) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  return got;
}

void InMemoryNetwork::ClientShutdownWrite(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  if (s == nullptr) return;
  if (Socket* peer = Get(s->peer)) {
    peer->fin = true;
    Wake(*peer);
  }
}

void InMemoryNetwork::ClientClose(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  if (s == nullptr) return;
  CloseLocked(*s);
  ForgetLocked(*s);
}

size_t InMemoryNetwork::ClientTrySend(int fd, std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  Socket* peer = s == nullptr || s->reset ? nullptr : Get(s->peer);
  return peer == nullptr ? 0 : PushLocked(*peer, bytes.data(), bytes.size(), NowNs());
}

std::string InMemoryNetwork::ClientTryRecv(int fd, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string got;
  Socket* s = Find(fd);
  if (s != nullptr && !s->reset && !s->dropped) TakeLocked(*s, max, NowNs(), &got);
  return got;
}

size_t InMemoryNetwork::ClientReadable(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  return s == nullptr || s->reset || s->dropped ? 0 : ReadyBytes(*s, NowNs());
}

size_t InMemoryNetwork::ClientWritable(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  Socket* peer = s == nullptr || s->reset ? nullptr : Get(s->peer);
  if (peer == nullptr) return 0;
  return options_.buffer_bytes - std::min(options_.buffer_bytes, peer->in_bytes);
}

bool InMemoryNetwork::ClientEnded(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  return s == nullptr || s->reset || (s->fin && s->in.empty());
}

bool InMemoryNetwork::ClientReset(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  return s != nullptr && s->reset;
}

absl::Time InMemoryNetwork::NextDue() const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowNs();
  int64_t next = INT64_MAX;
  for (const auto& [id, s] : sockets_) {
    if (!s.in.empty() && s.in.front().ready_ns > now) next = std::min(next, s.in.front().ready_ns);
  }
  return next == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixNanos(next);
}

void InMemoryNetwork::Reset(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Socket* s = Find(fd)) ResetLocked(*s);
}

void InMemoryNetwork::Drop(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  Socket* s = Find(fd);
  if (s == nullptr) return;
  s->dropped = true;
  if (Socket* peer = Get(s->peer)) peer->dropped = true;
}

void InMemoryNetwork::SetFdLimit(int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  fd_limit_ = limit;
}

int InMemoryNetwork::fds_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fds_in_use_;
}

InMemoryNetworkStats InMemoryNetwork::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

// ---- InMemoryBackend ----

InMemoryBackend::~InMemoryBackend() {
  std::lock_guard<std::mutex> lock(net_->mu_);
  for (auto& [id, s] : net_->sockets_) {
    if (s.owner == this) s.owner = nullptr;
  }
}

absl::StatusOr<int> InMemoryBackend::Listen(const SocketAddress& address, int backlog) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  int port = address.port();
  if (port == 0) {
    while (net_->listeners_.contains(net_->next_port_)) ++net_->next_port_;
    port = net_->next_port_++;
  } else if (net_->listeners_.contains(port)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", address.ToString(), ": the port is already in use"));
  }
  InMemoryNetwork::Socket& s =
      net_->NewSocketLocked(InMemoryNetwork::Socket::Kind::kListener, false);
  absl::StatusOr<int> fd = net_->TakeFdLocked(s);
  if (!fd.ok()) {
    net_->ForgetLocked(s);
    return fd.status();
  }
  s.port = port;
  s.backlog_max = static_cast<size_t>(std::max(backlog, 1));
  net_->listeners_[port] = s.id;
  return fd;
}

absl::StatusOr<int> InMemoryBackend::NewSocket(int /*family*/) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  InMemoryNetwork::Socket& s =
      net_->NewSocketLocked(InMemoryNetwork::Socket::Kind::kUnbound, false);
  absl::StatusOr<int> fd = net_->TakeFdLocked(s);
  if (!fd.ok()) net_->ForgetLocked(s);
  return fd;
}

absl::StatusOr<SocketAddress> InMemoryBackend::LocalAddress(int fd) {
  int port = 0;
  {
    std::lock_guard<std::mutex> lock(net_->mu_);
    InMemoryNetwork::Socket* s = net_->Find(fd);
    if (s == nullptr) return absl::InvalidArgumentError(absl::StrCat("no socket ", fd));
    port = s->port;
  }
  return ParseAddress("127.0.0.1", port);
}

void InMemoryBackend::Discard(int fd) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  if (InMemoryNetwork::Socket* s = net_->Find(fd)) {
    net_->CloseLocked(*s);
    net_->ForgetLocked(*s);
  }
}

void InMemoryBackend::Accept(int listen_fd, IoHandler* handler) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  InMemoryNetwork::Socket* s = net_->Find(listen_fd);
  if (s == nullptr) return;
  net_->Own(*s, this, handler);
  s->accepting = true;
  net_->Wake(*s);
}

void InMemoryBackend::Connect(int fd, const sockaddr* addr, socklen_t /*len*/,
                              IoHandler* handler) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  InMemoryNetwork::Socket* s = net_->Find(fd);
  if (s == nullptr) return;
  net_->Own(*s, this, handler);
  s->kind = InMemoryNetwork::Socket::Kind::kStream;
  s->connect_pending = true;
  auto it = net_->listeners_.find(PortOf(addr));
  InMemoryNetwork::Socket* listener =
      it == net_->listeners_.end() ? nullptr : net_->Get(it->second);
  if (listener == nullptr || listener->backlog.size() >= listener->backlog_max ||
      net_->Chance(net_->options_.faults.refuse_connect)) {
    ++net_->stats_.refused;
    s->connect_result = -ECONNREFUSED;
    net_->Wake(*s);
    return;
  }
  ++net_->stats_.connects;
  InMemoryNetwork::Socket& server =
      net_->NewSocketLocked(InMemoryNetwork::Socket::Kind::kStream, false);
  server.port = PortOf(addr);
  server.peer = s->id;
  s->peer = server.id;  // std::map: inserting moved no socket
  s->connect_result = 0;
  listener->backlog.push_back(server.id);
  net_->Wake(*listener);
  net_->Wake(*s);
}

void InMemoryBackend::Recv(int fd, IoHandler* handler) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  InMemoryNetwork::Socket* s = net_->Find(fd);
  if (s == nullptr) return;
  net_->Own(*s, this, handler);
  s->recv_armed = true;
  net_->Wake(*s);
}

void InMemoryBackend::StopRecv(int fd) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  if (InMemoryNetwork::Socket* s = net_->Find(fd)) s->recv_armed = false;
}

void InMemoryBackend::Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) {
  std::lock_guard<std::mutex> lock(net_->mu_);
  InMemoryNetwork::Socket* s = net_->Find(fd);
  if (s == nullptr) return;
  net_->Own(*s, this, handler);
  s->send_iov.assign(iov, iov + iovcnt);
  s->send_index = 0;
  s->send_offset = 0;
  s->send_total = 0;
  for (int i = 0; i < iovcnt; ++i) s->send_total += iov[i].iov_len;
  s->sending = true;
  net_->Wake(*s);
}

void InMemoryBackend::Close(int fd, IoHandler* handler) {
  {
    std::lock_guard<std::mutex> lock(net_->mu_);
    InMemoryNetwork::Socket* s = net_->Find(fd);
    if (s == nullptr) return;
    net_->CloseLocked(*s);
    net_->ForgetLocked(*s);
  }
  Defer(fd, handler, 0, Completion{IoOp::kClose, 0});
}

int InMemoryBackend::DeliverReady() {
  int delivered = 0;
  for (int i = 0; i < kMaxPerPoll; ++i) {
    int fd = -1;
    IoHandler* handler = nullptr;
    Completion c{};
    {
      std::lock_guard<std::mutex> lock(net_->mu_);
      const int64_t now = net_->NowNs();
      for (size_t t = 0; t < timed_.size();) {  // delayed bytes now due
        if (timed_[t].first > now) {
          ++t;
          continue;
        }
        InMemoryNetwork::Socket* s = net_->Get(timed_[t].second);
        if (s != nullptr && s->owner == this) {
          net_->Wake(*s);
        }
        timed_[t] = timed_.back();
        timed_.pop_back();
      }
      open_fds_ = static_cast<size_t>(owned_);
      bool found = false;
      while (!ready_.empty() && !found) {
        size_t at = 0;
        if (net_->options_.faults.reorder && ready_.size() > 1) {
          at = std::uniform_int_distribution<size_t>(0, ready_.size() - 1)(net_->random_);
        }
        const uint64_t id = ready_[at];
        ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(at));
        InMemoryNetwork::Socket* s = net_->Get(id);
        if (s == nullptr || s->owner != this || !s->queued) continue;
        s->queued = false;
        found = net_->NextCompletion(*s, now, &recv_buffer_, &fd, &handler, &c);
        s = net_->Get(id);  // still there: connections are only erased by Close
        if (s == nullptr) continue;
        if (net_->HasWork(*s, now)) {
          net_->Wake(*s);
        } else if (!s->in.empty() && s->recv_armed && !s->dropped) {
          timed_.emplace_back(s->in.front().ready_ns, id);  // its bytes are not due yet
        }
      }
      if (!found) break;
    }
    Count(completions_);
    if (c.result < 0) Count(errors_);
    handler->OnCompletion(fd, c);
    ++delivered;
  }
  return delivered;
}

bool InMemoryBackend::HasReady() {
  if (HasPosted() || HasDeferred()) return true;
  std::lock_guard<std::mutex> lock(net_->mu_);
  if (!ready_.empty()) return true;
  const int64_t now = net_->NowNs();
  for (const auto& [when, id] : timed_) {
    if (when <= now) return true;
  }
  return false;
}

int InMemoryBackend::Settle() { return RunPosted() + DeliverDeferred() + DeliverReady(); }

int InMemoryBackend::PollReady() { return Settle(); }

int InMemoryBackend::Poll(absl::Duration timeout) {
  Count(polls_);
  int n = Settle();
  if (n > 0 || timeout <= absl::ZeroDuration()) return n;
  if (BeginWait()) {
    std::unique_lock<std::mutex> lock(net_->mu_);
    Count(waits_);
    const auto now = std::chrono::steady_clock::now();
    bool forever = timeout == absl::InfiniteDuration();
    auto until = forever ? now : now + absl::ToChronoNanoseconds(timeout);
    for (const auto& [when, id] : timed_) {  // wake for the first delayed bytes due
      const auto due = now + std::chrono::nanoseconds(std::max<int64_t>(0, when - net_->NowNs()));
      until = forever ? due : std::min(until, due);
      forever = false;
    }
    while (ready_.empty() && !kicked_) {
      if (forever) {
        cv_.wait(lock);
      } else if (cv_.wait_until(lock, until) == std::cv_status::timeout) {
        break;
      }
    }
    kicked_ = false;
    lock.unlock();
    EndWait();
  }
  return n + Settle();
}

void InMemoryBackend::Kick() {
  std::lock_guard<std::mutex> lock(net_->mu_);
  kicked_ = true;
  cv_.notify_one();
}

}  // namespace troupe
