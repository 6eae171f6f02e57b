// Socket helpers shared by every backend and the TCP actors: address parsing, listening
// sockets, and the one mapping from errno to absl::Status.
//
// Thread safety: free functions over fds the caller owns.
#ifndef IO_SOCKET_SOCKET_H_
#define IO_SOCKET_SOCKET_H_

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  std::string ToString() const;  // "127.0.0.1:8080", "[::1]:8080"
};

// A numeric IPv4/IPv6 address or "localhost"; INVALID_ARGUMENT otherwise (no DNS here: name
// resolution blocks, so it belongs on the executor: see actors/executor ResolveHost).
absl::StatusOr<SocketAddress> ParseAddress(std::string_view host, int port);

// A non-blocking, close-on-exec listening TCP socket bound to `address` (SO_REUSEADDR).
// FAILED_PRECONDITION "... already in use" if the port is taken; RESOURCE_EXHAUSTED when out of
// fds; others from ErrnoToStatus.
absl::StatusOr<int> ListenTcp(const SocketAddress& address, int backlog);

// A non-blocking, close-on-exec TCP socket for `family`, ready for IoBackend::Connect.
absl::StatusOr<int> NewTcpSocket(int family);

// The address a socket is bound to (for port 0 listeners: the port the kernel picked).
absl::StatusOr<SocketAddress> LocalAddress(int fd);

void SetNoDelay(int fd);

// errno -> status, per the project's mapping: peer reset/refused/unreachable -> UNAVAILABLE,
// out of fds/memory/buffers -> RESOURCE_EXHAUSTED, ECANCELED -> CANCELLED, ETIMEDOUT ->
// DEADLINE_EXCEEDED, EINVAL -> INVALID_ARGUMENT, the rest -> INTERNAL. `what` prefixes it.
absl::Status ErrnoToStatus(int err, std::string_view what);

}  // namespace troupe

#endif  // IO_SOCKET_SOCKET_H_
