// TcpListener: accepts TCP connections for an ActorSystem and hands each one, as a TcpStream,
// to a callback that typically spawns the connection's actor.
//
//   auto listener = troupe::TcpListener::Listen(system, {.port = 7000},
//       [&system](troupe::TcpStream s) { (void)system.Spawn<EchoConnection>(std::move(s)); });
//
// Accepted sockets are spread round-robin over the workers' backends; the callback runs on
// the worker that owns the new socket. Limits: past `max_connections` open connections a new
// connection is accepted and closed at once (counted as refused). When accept fails for lack
// of file descriptors (EMFILE/ENFILE) the listener stops accepting and retries after
// `accept_retry`, instead of spinning on a socket that stays readable.
//
// Thread safety: all methods from any thread. Destroying the listener stops accepting;
// connections already accepted live on. A listener must be destroyed (or stopped) before its
// ActorSystem.
#ifndef ACTORS_TCP_TCP_LISTENER_H_
#define ACTORS_TCP_TCP_LISTENER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tcp/tcp_stream.h"
#include "framework/system/actor_system.h"

namespace troupe {

struct TcpListenerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: the kernel picks one (see port())
  int backlog = 4096;
  int64_t max_connections = 10000;
  absl::Duration accept_retry = absl::Milliseconds(100);
  // Each accepted connection's options. Safe defaults: a peer must send a first complete frame
  // within 30 s and is closed after 10 minutes without sending anything.
  TcpStreamOptions stream = {.first_frame_timeout = absl::Seconds(30),
                             .idle_timeout = absl::Minutes(10)};
};

struct TcpListenerStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;        // closed at once: max_connections reached
  uint64_t accept_errors = 0;  // EMFILE and friends (each followed by a back-off)
  int64_t open = 0;            // connections currently open
  uint64_t bytes_received = 0, bytes_sent = 0;  // over all its connections, ever
};

namespace internal {
class ListenerCore;
}

class TcpListener {
 public:
  using AcceptFn = std::function<void(TcpStream stream)>;

  // INVALID_ARGUMENT: bad host/port; FAILED_PRECONDITION: the port is in use or the system has
  // no I/O layer; RESOURCE_EXHAUSTED: out of fds.
  static absl::StatusOr<std::unique_ptr<TcpListener>> Listen(ActorSystem& system,
                                                             TcpListenerOptions options,
                                                             AcceptFn on_accept);
  ~TcpListener();

  int port() const { return port_; }
  TcpListenerStats stats() const;
  void Stop();  // stops accepting (idempotent)

 private:
  TcpListener(std::shared_ptr<internal::ListenerCore> core, int port)
      : core_(std::move(core)), port_(port) {}
  std::shared_ptr<internal::ListenerCore> core_;
  const int port_;
  metrics::Registry* metrics_ = nullptr;  // the system's: its collector reports our stats
  uint64_t collector_ = 0;
};

}  // namespace troupe

#endif  // ACTORS_TCP_TCP_LISTENER_H_
