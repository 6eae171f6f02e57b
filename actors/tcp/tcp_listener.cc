#include "actors/tcp/tcp_listener.h"

#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "actors/tcp/stream_core.h"
#include "io/socket/socket.h"
#include "framework/log/log.h"

namespace troupe {
namespace internal {

// The listening socket's handler; lives on its backend's owner thread (see StreamCore for the
// same ownership scheme: self-owned until the kClose completion).
class ListenerCore final : public IoHandler, public std::enable_shared_from_this<ListenerCore> {
 public:
  ListenerCore(ActorSystem& system, IoBackend& backend, int fd, TcpListenerOptions options,
               TcpListener::AcceptFn on_accept)
      : system_(system),
        backend_(backend),
        fd_(fd),
        options_(std::move(options)),
        on_accept_(std::move(on_accept)),
        counters_(std::make_shared<ConnectionCounters>()) {}

  void Start() {
    self_ = shared_from_this();
    IoService::RunOn(backend_, [self = self_] { self->backend_.Accept(self->fd_, self.get()); });
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    IoService::RunOn(backend_,
                     [self = shared_from_this()] { self->backend_.Close(self->fd_, self.get()); });
  }

  TcpListenerStats stats() const {
    TcpListenerStats s;
    s.accepted = accepted_.load(std::memory_order_relaxed);
    s.refused = refused_.load(std::memory_order_relaxed);
    s.accept_errors = accept_errors_.load(std::memory_order_relaxed);
    s.open = counters_->open.load(std::memory_order_relaxed);
    s.bytes_received = counters_->bytes_received.Value();
    s.bytes_sent = counters_->bytes_sent.Value();
    return s;
  }

  void OnCompletion(int /*fd*/, const Completion& c) override {
    if (c.op == IoOp::kClose) {
      std::shared_ptr<ListenerCore> last = std::move(self_);
      return;
    }
    if (c.op != IoOp::kAccept) return;
    if (c.result >= 0) {
      Accepted(c.result);
      return;
    }
    if (stopping_.load()) return;
    // Out of fds (or another accept failure): back off, then re-arm. No busy loop.
    const uint64_t errors = accept_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    static LogLimit limit(1);
    LogLimited(limit, absl::LogSeverity::kWarning, "accept failed, retrying",
               {{"error", std::strerror(-c.result)}, {"retry_every", absl::FormatDuration(options_.accept_retry)},
                {"errors", errors}});
    std::weak_ptr<ListenerCore> weak = shared_from_this();
    system_.scheduler().AddTimer(system_.scheduler().Now() + options_.accept_retry,
                                 absl::ZeroDuration(), [weak] {
                                   auto self = weak.lock();
                                   if (!self || self->stopping_.load()) return;
                                   IoService::RunOn(self->backend_, [self] {
                                     if (!self->stopping_.load()) {
                                       self->backend_.Accept(self->fd_, self.get());
                                     }
                                   });
                                 });
  }

 private:
  void Accepted(int fd) {
    if (counters_->open.load(std::memory_order_acquire) >= options_.max_connections || stopping_.load()) {
      backend_.Discard(fd);  // never registered with a backend
      refused_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    counters_->open.fetch_add(1, std::memory_order_acq_rel);
    backend_.SetNoDelay(fd);
    IoBackend& owner = system_.io()->NextBackend();
    // The stream lives on `owner`; the callback runs there (where its first calls are direct).
    IoService::RunOn(owner, [&owner, &scheduler = system_.scheduler(), fd, counters = counters_,
                             options = options_.stream, on_accept = on_accept_] {
      on_accept(TcpStream(StreamCore::Create(owner, scheduler, fd, options, counters)));
    });
  }

  ActorSystem& system_;
  IoBackend& backend_;
  const int fd_;
  const TcpListenerOptions options_;
  const TcpListener::AcceptFn on_accept_;
  std::shared_ptr<ConnectionCounters> counters_;
  std::shared_ptr<ListenerCore> self_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0}, refused_{0}, accept_errors_{0};
};

}  // namespace internal

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Listen(ActorSystem& system,
                                                                 TcpListenerOptions options,
                                                                 AcceptFn on_accept) {
  if (system.io() == nullptr) {
    return absl::FailedPreconditionError("the ActorSystem was created without an I/O layer");
  }
  absl::StatusOr<SocketAddress> address = ParseAddress(options.host, options.port);
  if (!address.ok()) return address.status();
  IoBackend& backend = system.io()->BackendForNewSocket();
  absl::StatusOr<int> fd = backend.Listen(*address, options.backlog);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<SocketAddress> bound = backend.LocalAddress(*fd);
  const int port = bound.ok() ? bound->port() : options.port;
  const std::string name = absl::StrCat(options.host, ":", port);  // its metrics' label
  auto core = std::make_shared<internal::ListenerCore>(system, backend, *fd, std::move(options),
                                                       std::move(on_accept));
  core->Start();
  std::unique_ptr<TcpListener> listener(new TcpListener(std::move(core), port));
  // Its figures at every scrape of the system's metrics, while it exists.
  listener->metrics_ = &system.metrics();
  listener->collector_ = system.metrics().AddCollector(
      [core = listener->core_, name](metrics::Collection& out) {
        const TcpListenerStats s = core->stats();
        const metrics::Collection::Labels labels = {{"listener", name}};
        out.Counter("troupe_tcp_connections_accepted_total", "TCP connections accepted.", labels,
                    static_cast<double>(s.accepted));
        out.Counter("troupe_tcp_connections_refused_total",
                    "TCP connections closed at once: the listener's max_connections was reached.",
                    labels, static_cast<double>(s.refused));
        out.Counter("troupe_tcp_accept_errors_total", "accept() errors (EMFILE and friends).",
                    labels, static_cast<double>(s.accept_errors));
        out.Gauge("troupe_tcp_connections_open", "TCP connections open now.", labels,
                  static_cast<double>(s.open));
        out.Counter("troupe_tcp_received_bytes_total",
                    "Bytes read from the listener's connections.", labels,
                    static_cast<double>(s.bytes_received));
        out.Counter("troupe_tcp_sent_bytes_total", "Bytes written to the listener's connections.",
                    labels, static_cast<double>(s.bytes_sent));
      });
  return listener;
}

TcpListener::~TcpListener() {
  Stop();
  if (metrics_ != nullptr) metrics_->RemoveCollector(collector_);
}

void TcpListener::Stop() { core_->Stop(); }

TcpListenerStats TcpListener::stats() const { return core_->stats(); }

}  // namespace troupe
