// Chat fan-out load generator (bench/chat_compare): `members` clients join one room; `senders`
// of them send `message_size`-byte lines, each keeping `window` of its messages in flight (it
// sends the next when its own copy comes back). Every member counts the room lines it
// receives. Prints one JSON line: deliveries per second (room lines received by all members)
// over the measured interval. Works against any server speaking the chat line protocol.
//
//   chat_load --port=7070 --members=100 --senders=4 --message_size=64 --duration=3
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

ABSL_FLAG(int, port, 7070, "chat server port on 127.0.0.1");
ABSL_FLAG(int, members, 100, "clients in the room");
ABSL_FLAG(int, senders, 4, "how many of them send");
ABSL_FLAG(int, rooms, 1, "spread the members over this many rooms (the senders are in the first)");
ABSL_FLAG(int, window, 8, "messages in flight per sender");
ABSL_FLAG(int, message_size, 64, "bytes of text per message");
ABSL_FLAG(double, duration, 3, "measured seconds");
ABSL_FLAG(double, warmup, 0.5, "seconds before measuring");

namespace {

struct Member {
  int fd = -1;
  std::string nick;
  std::string in;   // partial line
  std::string out;  // unsent bytes
  std::string room;
  int in_flight = 0;  // sender: own messages not yet seen back
  bool joined = false;
};

bool Flush(Member& m) {
  while (!m.out.empty()) {
    const ssize_t n = ::send(m.fd, m.out.data(), m.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) return false;
    m.out.erase(0, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int members = absl::GetFlag(FLAGS_members);
  const int senders = std::min(absl::GetFlag(FLAGS_senders), members);
  const int rooms = std::max(1, absl::GetFlag(FLAGS_rooms));
  const int window = absl::GetFlag(FLAGS_window);
  const std::string text(absl::GetFlag(FLAGS_message_size), 'x');
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Member> ms(members);
  for (int i = 0; i < members; ++i) {
    Member& m = ms[i];
    m.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(absl::GetFlag(FLAGS_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      std::fprintf(stderr, "chat_load: connect: %s\n", std::strerror(errno));
      return 1;
    }
    int one = 1;
    ::setsockopt(m.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::fcntl(m.fd, F_SETFL, ::fcntl(m.fd, F_GETFL) | O_NONBLOCK);
    m.nick = absl::StrCat("m", i);
    const int rooms = std::max(1, absl::GetFlag(FLAGS_rooms));
    m.room = i % rooms == 0 ? "bench" : absl::StrCat("room", i % rooms);
    m.out = absl::StrCat("/nick ", m.nick, "\n/join ", m.room, "\n");
    epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(i)}};
    ::epoll_ctl(ep, EPOLL_CTL_ADD, m.fd, &ev);
    if (!Flush(m)) return 1;
  }
  const std::string own_prefix = "[bench] ";
  uint64_t deliveries = 0, measured = 0;
  int joined = 0;
  bool measuring = false, started = false;
  absl::Time start_measure, end_measure, began;
  std::vector<epoll_event> events(256);
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  for (;;) {
    const absl::Time now = absl::Now();
    if (now > give_up) {
      std::fprintf(stderr, "chat_load: timed out (%d of %d joined)\n", joined, members);
      return 1;
    }
    if (started && !measuring && now >= began + absl::Seconds(absl::GetFlag(FLAGS_warmup))) {
      measuring = true;
      measured = deliveries;
      start_measure = now;
    }
    if (measuring && now >= start_measure + absl::Seconds(absl::GetFlag(FLAGS_duration))) {
      end_measure = now;
      break;
    }
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
    for (int e = 0; e < n; ++e) {
      Member& m = ms[events[e].data.u32];
      char buf[65536];
      for (;;) {
        const ssize_t got = ::recv(m.fd, buf, sizeof(buf), 0);
        if (got < 0 && errno == EAGAIN) break;
        if (got <= 0) {
          std::fprintf(stderr, "chat_load: %s was disconnected\n", m.nick.c_str());
          return 1;
        }
        m.in.append(buf, static_cast<size_t>(got));
      }
      size_t pos = 0, nl;
      while ((nl = m.in.find('\n', pos)) != std::string::npos) {
        std::string_view line(m.in.data() + pos, nl - pos);
        pos = nl + 1;
        if (line.substr(0, own_prefix.size()) == own_prefix) {
          ++deliveries;
          const size_t colon = line.find(':');
          if (m.in_flight > 0 &&
              line.substr(own_prefix.size(), colon - own_prefix.size()) == m.nick) {
            --m.in_flight;
          }
        } else if (!m.joined && line == "* joined " + m.room) {
          m.joined = true;
          ++joined;
        } else if (!line.empty() && line[0] == '!') {
          std::fprintf(stderr, "chat_load: %s got %.*s\n", m.nick.c_str(),
                       static_cast<int>(line.size()), line.data());
          return 1;
        }
      }
      m.in.erase(0, pos);
    }
    if (!started && joined == members) {
      started = true;
      began = absl::Now();
    }
    if (started) {
      for (int k = 0; k < senders; ++k) {
        Member& m = ms[static_cast<size_t>(k) * rooms];  // members of the first room
        while (m.in_flight < window) {
          m.out += absl::StrCat(text, "\n");
          ++m.in_flight;
        }
        if (!Flush(m)) return 1;
      }
    }
  }
  const double seconds = absl::ToDoubleSeconds(end_measure - start_measure);
  std::printf(
      "{\"members\": %d, \"rooms\": %d, \"senders\": %d, \"message_size\": %zu, "
      "\"deliveries_per_s\": %.0f}\n",
      members, rooms, senders, text.size(), (deliveries - measured) / seconds);
  for (Member& m : ms) ::close(m.fd);
  return 0;
}
