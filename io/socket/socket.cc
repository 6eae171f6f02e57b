#include "io/socket/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace troupe {

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof(text));
    return absl::StrCat(text, ":", port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof(text));
    return absl::StrCat("[", text, "]:", port());
  }
  return "?";
}

absl::StatusOr<SocketAddress> ParseAddress(std::string_view host, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is out of range 0-65535"));
  }
  std::string h(host == "localhost" ? "127.0.0.1" : host);
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof(sockaddr_in);
    return a;
  }
  a.storage = sockaddr_storage{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", h, "' is not a numeric IPv4/IPv6 address (resolve names first)"));
}

absl::Status ErrnoToStatus(int err, std::string_view what) {
  std::string message = absl::StrCat(std::string(what), ": ", std::strerror(err));
  switch (err) {
    case ECONNRESET:
    case ECONNREFUSED:
    case ECONNABORTED:
    case EPIPE:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENOTCONN:
      return absl::UnavailableError(message);
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    case ECANCELED:
      return absl::CancelledError(message);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    case EADDRINUSE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<int> NewTcpSocket(int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket");
  return fd;
}

absl::StatusOr<int> ListenTcp(const SocketAddress& address, int backlog) {
  absl::StatusOr<int> fd = NewTcpSocket(address.family());
  if (!fd.ok()) return fd.status();
  const int one = 1;
  ::setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(*fd, address.get(), address.length) != 0) {
    const int err = errno;
    ::close(*fd);
    if (err == EADDRINUSE) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot listen on ", address.ToString(), ": the port is already in use"));
    }
    return ErrnoToStatus(err, absl::StrCat("bind ", address.ToString()));
  }
  if (::listen(*fd, backlog) != 0) {
    const int err = errno;
    ::close(*fd);
    return ErrnoToStatus(err, absl::StrCat("listen ", address.ToString()));
  }
  return *fd;
}

absl::StatusOr<SocketAddress> LocalAddress(int fd) {
  SocketAddress a;
  a.length = sizeof(a.storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) != 0) {
    return ErrnoToStatus(errno, "getsockname");
  }
  return a;
}

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace troupe
