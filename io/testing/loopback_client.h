// Blocking client-side socket helpers for tests that drive a server over 127.0.0.1.
//
// Thread safety: free functions over fds the caller owns. Test-only.
#ifndef IO_TESTING_LOOPBACK_CLIENT_H_
#define IO_TESTING_LOOPBACK_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace troupe::testing {

// A blocking TCP socket connected to 127.0.0.1:port, or -1 (errno set).
inline int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends every byte (blocking); false if the connection failed first.
inline bool SendAll(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until `n` bytes or end of stream / error; returns what arrived.
inline std::string RecvExactly(int fd, size_t n) {
  std::string out(n, '\0');
  size_t off = 0;
  while (off < n) {
    const ssize_t r = ::recv(fd, out.data() + off, n - off, 0);
    if (r <= 0) break;
    off += static_cast<size_t>(r);
  }
  out.resize(off);
  return out;
}

// On a non-blocking fd: sends `pattern` over and over until `limit` bytes went out or the peer
// stopped taking them for long enough that `give_up` passed. Returns the bytes sent; byte i
// of the stream is pattern[i % pattern.size()].
inline size_t SendUntilStalled(int fd, const std::string& pattern, size_t limit,
                               absl::Duration give_up) {
  size_t sent = 0;
  const absl::Time deadline = absl::Now() + give_up;
  while (sent < limit && absl::Now() < deadline) {
    const size_t off = sent % pattern.size();
    const ssize_t n = ::send(fd, pattern.data() + off, pattern.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  return sent;
}

}  // namespace troupe::testing

#endif  // IO_TESTING_LOOPBACK_CLIENT_H_
