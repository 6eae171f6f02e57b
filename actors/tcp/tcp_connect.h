// ConnectTcp: opens a TCP connection for an actor.
//
//   auto stream = troupe::ConnectTcp(ctx().system(), *address, self());
//
// Returns the stream at once; writes made before the connection is up are queued and sent
// when it is. Success is silent (bytes start arriving as TcpReceived); a refused or failed
// connect, or no connection within `timeout`, ends as TcpClosed with UNAVAILABLE /
// DEADLINE_EXCEEDED. Errors returned here: FAILED_PRECONDITION (no I/O layer) or socket
// creation failures (RESOURCE_EXHAUSTED when out of fds).
//
// Thread safety: callable from any thread.
#ifndef ACTORS_TCP_TCP_CONNECT_H_
#define ACTORS_TCP_TCP_CONNECT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tcp/tcp_stream.h"
#include "framework/system/actor_system.h"
#include "io/socket/socket.h"

namespace troupe {

namespace internal {
absl::StatusOr<TcpStream> ConnectTcpWith(ActorSystem& system, const SocketAddress& to,
                                         std::unique_ptr<StreamEvents> events,
                                         TcpStreamOptions options, absl::Duration timeout);
}

template <typename P>
absl::StatusOr<TcpStream> ConnectTcp(ActorSystem& system, const SocketAddress& to,
                                     const ActorRef<P>& owner, TcpStreamOptions options = {},
                                     absl::Duration timeout = absl::Seconds(10)) {
  return internal::ConnectTcpWith(
      system, to, std::make_unique<internal::ActorStreamEvents<P>>(owner), options, timeout);
}

}  // namespace troupe

#endif  // ACTORS_TCP_TCP_CONNECT_H_
