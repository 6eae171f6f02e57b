// A terminal client for the chat server: type lines, see the room's traffic as it arrives.
//
//   bazel run //examples/chat:chat_client -- 127.0.0.1:7070
//
// Each line you type is sent as is (see examples/chat/README.md: /nick NAME, /join ROOM, then
// plain lines go to the room; /quit leaves). Server lines are printed as they arrive. End of
// input (Ctrl-D) sends /quit. Exits 0 when the server closes the connection after /quit, 1 if
// it cannot connect or the connection drops.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

namespace {

int Connect(const std::string& target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return -1;
  const std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "chat_client HOST:PORT - type /nick NAME, /join ROOM, then lines to the room; /quit to "
      "leave");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const char* address = args[1];
  const int fd = Connect(address);
  if (fd < 0) {
    std::fprintf(stderr, "chat_client: cannot connect to %s\n", address);
    return 1;
  }
  std::fprintf(stderr, "connected to %s - /nick NAME, /join ROOM, then type; /quit to leave\n",
               address);
  std::string typed, received;
  bool quit_sent = false, stdin_open = true;
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents != 0) {
      char buf[65536];
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (!received.empty()) std::fwrite(received.data(), 1, received.size(), stdout);
        std::fflush(stdout);
        if (!quit_sent) std::fprintf(stderr, "chat_client: the server closed the connection\n");
        return quit_sent ? 0 : 1;
      }
      received.append(buf, static_cast<size_t>(n));
      const size_t last = received.rfind('\n');
      if (last != std::string::npos) {  // print whole lines only
        std::fwrite(received.data(), 1, last + 1, stdout);
        std::fflush(stdout);
        received.erase(0, last + 1);
      }
    }
    if (stdin_open && fds[1].revents != 0) {
      char buf[4096];
      const ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0) {  // end of input: leave politely
        stdin_open = false;
        if (!quit_sent && !SendAll(fd, "/quit\n")) return 1;
        quit_sent = true;
        continue;
      }
      typed.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = typed.find('\n')) != std::string::npos) {
        const std::string line = typed.substr(0, nl + 1);
        typed.erase(0, nl + 1);
        if (line == "/quit\n" || line == "/quit\r\n") quit_sent = true;
        if (!SendAll(fd, line)) {
          std::fprintf(stderr, "chat_client: the connection dropped\n");
          return 1;
        }
      }
    }
  }
}
