#include "examples/echo/tcp_echo.h"

#include <utility>

#include "framework/log/log.h"

namespace troupe::examples {

absl::StatusOr<std::unique_ptr<TcpListener>> ServeTcpEcho(ActorSystem& system,
                                                          TcpListenerOptions options) {
  return TcpListener::Listen(system, std::move(options), [&system](TcpStream stream) {
    auto spawned = system.Spawn<EchoConnection>(std::move(stream));
    if (!spawned.ok()) {
      static LogLimit limit(1);
      LogLimited(limit, absl::LogSeverity::kWarning, "echo connection refused",
                 {{"error", spawned.status().message()}});
    }
  });
}

}  // namespace troupe::examples
