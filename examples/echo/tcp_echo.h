// The echo sample's TCP service: one EchoConnection actor per accepted connection writes every
// byte it receives straight back, in order. Backpressure is the stream's: if a client stops
// reading, the queue passes its high-water mark, reading from that client pauses, and memory
// stays bounded. Used by echo_server and, unchanged, by its simulation test.
//
// Thread safety: ServeTcpEcho from any thread; the listener as TcpListener says.
#ifndef EXAMPLES_ECHO_TCP_ECHO_H_
#define EXAMPLES_ECHO_TCP_ECHO_H_

#include <memory>

#include "absl/status/statusor.h"
#include "actors/tcp/tcp_listener.h"
#include "framework/system/actor_system.h"

namespace troupe::examples {

using EchoConnectionProtocol = Protocol<TcpReceived, TcpClosed>;

class EchoConnection : public Actor<EchoConnection, EchoConnectionProtocol> {
 public:
  explicit EchoConnection(TcpStream stream) : stream_(std::move(stream)) {}
  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) { (void)stream_.Write(std::move(m.bytes)); }
  void Handle(TcpClosed) { ctx().Stop(); }

 private:
  TcpStream stream_;
};

// Listens as `options` say and serves each connection with an EchoConnection (a failed spawn,
// past the actor limit or in shutdown, closes that connection; it is logged).
absl::StatusOr<std::unique_ptr<TcpListener>> ServeTcpEcho(ActorSystem& system,
                                                          TcpListenerOptions options);

}  // namespace troupe::examples

#endif  // EXAMPLES_ECHO_TCP_ECHO_H_
