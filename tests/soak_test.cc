// Soak: the chat server and a TCP echo service in one system under churning load - clients
// connecting, talking and leaving all the time - with a connection actor crashing every 2 s.
// After the warm-up, memory must stay flat (within 10%) and once the load stops every socket
// must be gone. SOAK_SECONDS sets the length (CI: 60; longer by hand).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "actors/tcp/tcp_listener.h"
#include "actors/tcp/tcp_stream.h"
#include "examples/chat/chat_server_lib.h"
#include "framework/system/actor_system.h"
#include "framework/testing/process_stats.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::OpenFds;
using ::troupe::testing::RssKiB;

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

bool SendAll(int fd, const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    const ssize_t n = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the peer closes (or 5 s pass). True if it closed.
bool ReadToClose(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// The echo side: echoes bytes; a message containing "CRASH" makes its handler throw.
using EchoProtocol = Protocol<TcpReceived, TcpClosed>;
class CrashyEcho : public Actor<CrashyEcho, EchoProtocol> {
 public:
  explicit CrashyEcho(TcpStream stream) : stream_(std::move(stream)) {}
  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) {
    if (m.bytes.find("CRASH") != std::string::npos) throw std::runtime_error("injected crash");
    (void)stream_.Write(std::move(m.bytes));
  }
  void Handle(TcpClosed) { ctx().Stop(); }

 private:
  TcpStream stream_;
};

TEST(SoakTest, ChurnAndCrashesUnderLoadKeepMemoryFlatAndLeakNoSocket) {
  const char* env = std::getenv("SOAK_SECONDS");
  const absl::Duration length = absl::Seconds(env != nullptr ? std::atoi(env) : 60);
  const absl::Duration warmup = std::min(absl::Seconds(10), length / 4);

  ActorSystem system({.threads = 2});
  auto chat = chat::ChatServer::Start(system, {.host = "127.0.0.1"});
  ASSERT_TRUE(chat.ok()) << chat.status();
  TcpListenerOptions listen;
  listen.host = "127.0.0.1";
  auto echo = TcpListener::Listen(system, listen, [&system](TcpStream s) {
    (void)system.Spawn<CrashyEcho>(std::move(s));
  });
  ASSERT_TRUE(echo.ok()) << echo.status();
  const int chat_port = (*chat)->port();
  const int echo_port = (*echo)->port();
  const int fds_idle = OpenFds();

  std::atomic<bool> stop{false};
  std::atomic<int64_t> chat_sessions{0}, echo_sessions{0}, echo_errors{0}, crashes{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {  // chat: join a room, talk, quit
    load.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const int fd = Connect(chat_port);
        if (fd < 0) continue;
        std::string script = "/nick u" + std::to_string(t) + "_" + std::to_string(i % 1000) +
                             "\n/join room" + std::to_string(i % 7) + "\n";
        for (int line = 0; line < 20; ++line) script += "hello " + std::to_string(line) + "\n";
        script += "/quit\n";
        if (SendAll(fd, script) && ReadToClose(fd)) ++chat_sessions;
        ::close(fd);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {  // echo: 100 round trips per connection
    load.emplace_back([&] {
      while (!stop.load()) {
        const int fd = Connect(echo_port);
        if (fd < 0) continue;
        bool good = true;
        for (int i = 0; i < 100 && good; ++i) {
          const std::string ping = "ping " + std::to_string(i) + "\n";
          std::string got;
          good = SendAll(fd, ping);
          while (good && got.size() < ping.size()) {
            char buf[256];
            const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) good = false;
            else got.append(buf, static_cast<size_t>(n));
          }
          good = good && got == ping;
        }
        ++(good ? echo_sessions : echo_errors);
        ::close(fd);
      }
    });
  }
  load.emplace_back([&] {  // a crash every 2 s
    while (!stop.load()) {
      absl::SleepFor(absl::Seconds(2));
      const int fd = Connect(echo_port);
      if (fd < 0) continue;
      if (SendAll(fd, "CRASH\n") && ReadToClose(fd)) ++crashes;
      ::close(fd);
    }
  });

  // Real time: the load runs through the warm-up before memory is first measured.
  absl::SleepFor(warmup);
  const long rss_warm = RssKiB();
  long rss_peak = rss_warm;
  const absl::Time end = absl::Now() + length - warmup;
  while (absl::Now() < end) {
    // Real time: memory is sampled once a second while the load runs.
    absl::SleepFor(absl::Seconds(1));
    rss_peak = std::max(rss_peak, RssKiB());
  }
  const long rss_end = RssKiB();
  stop = true;
  for (auto& t : load) t.join();
  // Every connection is closed on the client side: the server side follows.
  int fds_after = OpenFds();
  for (int i = 0; i < 100 && fds_after != fds_idle; ++i) {
    // Real time: the server closes its side of each connection on its own threads.
    absl::SleepFor(absl::Milliseconds(50));
    fds_after = OpenFds();
  }
  std::printf("soak %s: %lld chat sessions, %lld echo sessions (%lld failed), %lld crashes "
              "(%llu failures counted); RSS %ld KiB after warm-up, %ld peak, %ld at the end; "
              "fds %d idle, %d after\n",
              absl::FormatDuration(length).c_str(), static_cast<long long>(chat_sessions.load()),
              static_cast<long long>(echo_sessions.load()),
              static_cast<long long>(echo_errors.load()), static_cast<long long>(crashes.load()),
              static_cast<unsigned long long>(system.stats().failures), rss_warm, rss_peak,
              rss_end, fds_idle, fds_after);
  EXPECT_GT(chat_sessions.load(), 0);
  EXPECT_GT(echo_sessions.load(), 0);
  EXPECT_EQ(echo_errors.load(), 0);
  EXPECT_GE(crashes.load(), absl::ToInt64Seconds(length) / 2 - 2);
  EXPECT_EQ(system.stats().failures, static_cast<uint64_t>(crashes.load()));
  EXPECT_LE(rss_peak, rss_warm + rss_warm / 10) << "memory grew during the soak";
  EXPECT_EQ(fds_after, fds_idle) << "sockets leaked";
  (*echo)->Stop();
  (*chat)->Stop();
}

}  // namespace
}  // namespace troupe
