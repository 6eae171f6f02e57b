// The floor for the echo benchmark: a minimal single-threaded epoll echo server, written the
// way a careful C programmer would (no framework). Edge-triggered; read until a short read or
// EAGAIN into one 64 KiB buffer, write straight back; an unwritten remainder waits for
// EPOLLOUT. Prints "listening on port N".
//
//   bazel run -c opt //bench:raw_epoll_echo -- --port=0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, port, 0, "TCP port (0: pick a free one)");

namespace {

struct Conn {
  std::string pending;  // bytes not yet written back
};

// Writes what is pending; false if the connection failed.
bool FlushPending(int fd, Conn& c) {
  while (!c.pending.empty()) {
    const ssize_t n = ::send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN;
    c.pending.erase(0, n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(absl::GetFlag(FLAGS_port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(lfd, 4096)) {
    std::perror("raw_epoll_echo: bind/listen");
    return 1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on port %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, Conn> conns;
  static char buf[64 * 1024];
  epoll_event events[256];
  for (;;) {
    const int n = ::epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == lfd) {
        for (int c; (c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c];
        }
        continue;
      }
      Conn& c = conns[fd];
      bool alive = FlushPending(fd, c);
      while (alive && c.pending.empty()) {
        const ssize_t r = ::read(fd, buf, sizeof(buf));
        if (r > 0) {
          const ssize_t w = ::send(fd, buf, r, MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN) alive = false;
          if (w < r) c.pending.assign(buf + (w > 0 ? w : 0), r - (w > 0 ? w : 0));
          if (r < static_cast<ssize_t>(sizeof(buf))) break;  // drained
        } else if (r == 0 || errno != EAGAIN) {
          alive = false;
        } else {
          break;
        }
      }
      if (!alive) {
        ::close(fd);
        conns.erase(fd);
      }
    }
  }
}
