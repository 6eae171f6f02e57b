// echo_client: a load generator for any raw TCP byte-stream echo server.
//
//   bazel run --config=opt //examples/echo:echo_client -- --port=7000 --connections=64
//
// What it promises:
// - Opens --connections TCP connections (all connected before the clock starts), each keeping
//   --pipeline messages of --message_size bytes in flight. Every message's content is a
//   deterministic pattern of (connection id, sequence number, byte offset), and every echoed
//   byte is checked against it, so corruption, loss, duplication and reordering are all caught.
// - Latency of a round trip: from the moment a message is issued to the moment its last byte
//   is back (std::chrono::steady_clock). Only round trips completed in the --duration window
//   after --warmup are counted.
// - Prints connections, message size, duration, round trips, round trips/s, MB/s (payload one
//   way) and latency p50/p90/p99/p999/max in microseconds; --json adds one JSON line.
// - Exits non-zero with a one-line message on stderr if connecting fails, an echoed byte
//   differs, a connection closes or resets early, or no round trip completed.
// - Single-threaded, non-blocking sockets and level-triggered epoll, so it stays cheaper than
//   the server it measures. Message payloads are generated on the fly, never stored, so sizes
//   from 1 byte to many MiB work with thousands of connections.
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "server address (IPv4 address or host name)");
ABSL_FLAG(int, port, 0, "server TCP port (required)");
ABSL_FLAG(int, connections, 64, "concurrent connections");
ABSL_FLAG(int64_t, message_size, 64, "bytes per message");
ABSL_FLAG(double, duration, 3.0, "measured seconds (after the warmup)");
ABSL_FLAG(double, warmup, 0.5, "seconds of load before measuring starts");
ABSL_FLAG(int, pipeline, 1, "messages in flight per connection");
ABSL_FLAG(int, source_addresses, 1,
          "spread connections over source addresses 127.0.0.1..127.0.0.N (beats the ~28k "
          "ephemeral ports per source address limit); 1 = let the kernel choose");
ABSL_FLAG(bool, json, false, "also print one machine-readable JSON line with the figures");

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBufferSize = 256 * 1024;
constexpr int kMaxPendingConnects = 512;
constexpr auto kConnectTimeout = std::chrono::seconds(30);

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "echo_client: %s\n", message.c_str());
  std::exit(1);
}

// ---- The payload pattern ----

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Per-message seed: every (connection, sequence) pair gets an unrelated 64-bit value.
uint64_t MessageSeed(uint32_t connection, uint64_t sequence) {
  return SplitMix64(SplitMix64(connection) ^ sequence);
}

// Byte `offset` of a message is byte (offset % 8) of PatternWord(seed, offset / 8). The map
// word index -> value is a bijection for a given seed, so swapped words are caught too.
uint64_t PatternWord(uint64_t seed, uint64_t word_index) {
  uint64_t v = (seed + word_index) * 0x9E3779B97F4A7C15ULL;
  return v ^ (v >> 29);
}

// Writes bytes [offset, offset + length) of the message with `seed` to `out`.
void FillPattern(uint64_t seed, uint64_t offset, size_t length, uint8_t* out) {
  while (length > 0) {
    const uint64_t word = PatternWord(seed, offset / 8);
    const size_t skip = offset % 8;
    const size_t take = std::min(length, 8 - skip);
    std::memcpy(out, reinterpret_cast<const uint8_t*>(&word) + skip, take);
    out += take;
    offset += take;
    length -= take;
  }
}

// ---- Connections ----

struct Connection {
  int fd = -1;
  uint32_t id = 0;
  // Positions in the byte stream (message k occupies [k * size, (k + 1) * size)).
  uint64_t sent = 0;        // bytes handed to the kernel
  uint64_t received = 0;    // bytes echoed back and verified
  uint64_t issued = 0;      // messages issued: we may send up to issued * size bytes
  bool want_write = false;  // registered for EPOLLOUT (the socket buffer was full)
  std::vector<Clock::time_point> issue_time;  // ring of `pipeline` entries, by sequence
};

struct Options {
  int connections;
  uint64_t message_size;
  int pipeline;
};

class Client {
 public:
  Client(const Options& options, const sockaddr_in& server, int source_addresses)
      : options_(options), server_(server), source_addresses_(source_addresses) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) Fail(absl::StrFormat("epoll_create1: %s", std::strerror(errno)));
    buffer_.resize(kBufferSize);
    expected_.resize(kBufferSize);
    connections_.resize(options.connections);
    latencies_ns_.reserve(1 << 20);
  }

  void ConnectAll();
  // Runs the load; returns the measured window length in seconds.
  double Run(Clock::duration warmup, Clock::duration duration);

  std::vector<int64_t>& latencies_ns() { return latencies_ns_; }

 private:
  void SetEvents(Connection& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = c.id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
      Fail(absl::StrFormat("epoll_ctl: %s", std::strerror(errno)));
    }
  }
  void Issue(Connection& c, Clock::time_point now) {
    while (c.issued < c.received / options_.message_size + options_.pipeline) {
      c.issue_time[c.issued % options_.pipeline] = now;
      ++c.issued;
    }
  }
  void Write(Connection& c);
  void Read(Connection& c);

  const Options options_;
  const sockaddr_in server_;
  const int source_addresses_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;
  std::vector<uint8_t> buffer_;    // receive buffer, and send staging
  std::vector<uint8_t> expected_;  // the pattern a received chunk is compared with
  std::vector<int64_t> latencies_ns_;
  bool counting_ = false;  // inside the measured window
};

void Client::ConnectAll() {
  const Clock::time_point deadline = Clock::now() + kConnectTimeout;
  int next = 0;
  int pending = 0;
  int connected = 0;
  std::vector<epoll_event> events(kMaxPendingConnects);
  while (connected < options_.connections) {
    // Keep at most kMaxPendingConnects handshakes in flight so a small listen backlog is not
    // flooded (dropped SYNs are retried only after a second).
    while (next < options_.connections && pending < kMaxPendingConnects) {
      Connection& c = connections_[next];
      c.id = next++;
      c.issue_time.resize(options_.pipeline);
      c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) {
        Fail(absl::StrFormat("socket() for connection %d: %s", c.id, std::strerror(errno)));
      }
      const int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (source_addresses_ > 1) {
        // Pick the port at connect() time, so (source, destination) pairs are what must be
        // unique, not source ports alone.
        setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        sockaddr_in source{};
        source.sin_family = AF_INET;
        source.sin_addr.s_addr = htonl((127u << 24) | (1 + c.id % source_addresses_));
        if (bind(c.fd, reinterpret_cast<const sockaddr*>(&source), sizeof(source)) != 0) {
          Fail(absl::StrFormat("bind to source address 127.0.0.%d: %s",
                               1 + c.id % source_addresses_, std::strerror(errno)));
        }
      }
      if (connect(c.fd, reinterpret_cast<const sockaddr*>(&server_), sizeof(server_)) != 0 &&
          errno != EINPROGRESS) {
        Fail(absl::StrFormat("connect (connection %d): %s", c.id, std::strerror(errno)));
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = c.id;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
        Fail(absl::StrFormat("epoll_ctl: %s", std::strerror(errno)));
      }
      ++pending;
    }
    const int n = epoll_wait(epoll_fd_, events.data(), events.size(), 100);
    if (n < 0 && errno != EINTR) Fail(absl::StrFormat("epoll_wait: %s", std::strerror(errno)));
    for (int i = 0; i < n; ++i) {
      Connection& c = connections_[events[i].data.u32];
      int error = 0;
      socklen_t len = sizeof(error);
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      if (error != 0) {
        Fail(absl::StrFormat("connect (connection %d): %s", c.id, std::strerror(error)));
      }
      SetEvents(c, EPOLLIN);
      --pending;
      ++connected;
    }
    if (Clock::now() > deadline) {
      Fail(absl::StrFormat("connect: only %d of %d connections established after %d s", connected,
                           options_.connections,
                           static_cast<int>(kConnectTimeout / std::chrono::seconds(1))));
    }
  }
}

// Sends as much of the issued-but-unsent bytes as the socket takes, in one send() of up to
// kBufferSize bytes (which may span several small messages).
void Client::Write(Connection& c) {
  const uint64_t size = options_.message_size;
  const uint64_t limit = c.issued * size;
  while (c.sent < limit) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(limit - c.sent, kBufferSize));
    for (size_t filled = 0; filled < chunk;) {
      const uint64_t pos = c.sent + filled;
      const uint64_t offset = pos % size;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk - filled, size - offset));
      FillPattern(MessageSeed(c.id, pos / size), offset, take, buffer_.data() + filled);
      filled += take;
    }
    const ssize_t n = send(c.fd, buffer_.data(), chunk, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      Fail(absl::StrFormat("send on connection %d: %s", c.id, std::strerror(errno)));
    }
    c.sent += n;
    if (static_cast<size_t>(n) < chunk) break;  // socket buffer full
  }
  const bool blocked = c.sent < limit;
  if (blocked != c.want_write) {
    c.want_write = blocked;
    SetEvents(c, blocked ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }
}

// One recv() (level-triggered: if more is waiting, epoll reports it again), verify every byte,
// complete messages, issue the next ones.
void Client::Read(Connection& c) {
  const ssize_t n = recv(c.fd, buffer_.data(), buffer_.size(), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Fail(absl::StrFormat("connection %d failed after %llu verified bytes: %s", c.id,
                         static_cast<unsigned long long>(c.received), std::strerror(errno)));
  }
  if (n == 0) {
    Fail(absl::StrFormat("connection %d closed by the server after %llu verified bytes", c.id,
                         static_cast<unsigned long long>(c.received)));
  }
  if (c.received + n > c.sent) {
    Fail(absl::StrFormat("connection %d received %llu bytes more than it sent", c.id,
                         static_cast<unsigned long long>(c.received + n - c.sent)));
  }
  const uint64_t size = options_.message_size;
  const Clock::time_point now = Clock::now();
  const uint64_t issued_before = c.issued;
  for (size_t done = 0; done < static_cast<size_t>(n);) {
    const uint64_t sequence = c.received / size;
    const uint64_t offset = c.received % size;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n - done, size - offset));
    FillPattern(MessageSeed(c.id, sequence), offset, take, expected_.data());
    const uint8_t* got = buffer_.data() + done;
    if (std::memcmp(got, expected_.data(), take) != 0) {
      size_t i = 0;
      while (got[i] == expected_[i]) ++i;
      Fail(absl::StrFormat(
          "MISMATCH on connection %d at byte offset %llu of message %llu: expected 0x%02x got "
          "0x%02x",
          c.id, static_cast<unsigned long long>(offset + i),
          static_cast<unsigned long long>(sequence), expected_[i], got[i]));
    }
    done += take;
    c.received += take;
    if (c.received % size == 0) {  // message `sequence` is complete
      if (counting_) {
        latencies_ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    now - c.issue_time[sequence % options_.pipeline])
                                    .count());
      }
      Issue(c, now);
    }
  }
  if (c.issued != issued_before && !c.want_write) Write(c);
}

double Client::Run(Clock::duration warmup, Clock::duration duration) {
  const Clock::time_point start = Clock::now();
  for (Connection& c : connections_) {
    Issue(c, start);
    Write(c);
  }
  const Clock::time_point measure_start = start + warmup;
  const Clock::time_point end = measure_start + duration;
  std::vector<epoll_event> events(1024);
  Clock::time_point now = start;
  while (now < end) {
    if (!counting_ && now >= measure_start) counting_ = true;
    const Clock::time_point next_deadline = counting_ ? end : measure_start;
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - now);
    const int n = epoll_wait(epoll_fd_, events.data(), events.size(),
                             static_cast<int>(std::max<int64_t>(wait.count(), 0)));
    if (n < 0 && errno != EINTR) Fail(absl::StrFormat("epoll_wait: %s", std::strerror(errno)));
    for (int i = 0; i < n; ++i) {
      Connection& c = connections_[events[i].data.u32];
      const uint32_t ev = events[i].events;
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(c);
      if ((ev & EPOLLOUT) && c.want_write) Write(c);
    }
    now = Clock::now();
  }
  return std::chrono::duration<double>(now - measure_start).count();
}

sockaddr_in Resolve(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    Fail(absl::StrFormat("cannot resolve --host=%s: %s", host, gai_strerror(rc)));
  }
  addr.sin_addr = reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr;
  freeaddrinfo(result);
  return addr;
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Nearest-rank percentile of sorted values, in microseconds.
double PercentileUs(const std::vector<int64_t>& sorted, double p) {
  size_t rank = static_cast<size_t>(p / 100.0 * sorted.size());
  if (rank >= sorted.size()) rank = sorted.size() - 1;
  return sorted[rank] / 1000.0;
}

int Main() {
  const int port = absl::GetFlag(FLAGS_port);
  if (port <= 0 || port > 65535) Fail("--port is required (1-65535)");
  const Options options{
      .connections = absl::GetFlag(FLAGS_connections),
      .message_size =
          static_cast<uint64_t>(std::max<int64_t>(absl::GetFlag(FLAGS_message_size), 0)),
      .pipeline = absl::GetFlag(FLAGS_pipeline),
  };
  const double duration_s = absl::GetFlag(FLAGS_duration);
  const double warmup_s = absl::GetFlag(FLAGS_warmup);
  const int source_addresses = absl::GetFlag(FLAGS_source_addresses);
  if (options.connections < 1) Fail("--connections must be >= 1");
  if (options.message_size < 1) Fail("--message_size must be >= 1");
  if (options.pipeline < 1) Fail("--pipeline must be >= 1");
  if (!(duration_s > 0)) Fail("--duration must be > 0");
  if (!(warmup_s >= 0)) Fail("--warmup must be >= 0");
  if (source_addresses < 1 || source_addresses > 254) Fail("--source_addresses must be 1-254");

  RaiseFileLimit();
  const std::string host = absl::GetFlag(FLAGS_host);
  Client client(options, Resolve(host, port), source_addresses);
  client.ConnectAll();
  const auto to_clock = [](double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  const double window_s = client.Run(to_clock(warmup_s), to_clock(duration_s));

  std::vector<int64_t>& latencies = client.latencies_ns();
  if (latencies.empty()) {
    Fail(absl::StrFormat("no round trip completed in %.2f s (after %.2f s warmup)", duration_s,
                         warmup_s));
  }
  std::sort(latencies.begin(), latencies.end());
  const uint64_t round_trips = latencies.size();
  const double rate = round_trips / window_s;
  const double mb_per_s = rate * options.message_size / 1e6;
  const double p50 = PercentileUs(latencies, 50), p90 = PercentileUs(latencies, 90),
               p99 = PercentileUs(latencies, 99), p999 = PercentileUs(latencies, 99.9),
               max = latencies.back() / 1000.0;
  std::printf("echo_client: %s:%d, %d connections, %llu B messages, pipeline %d\n", host.c_str(),
              port, options.connections, static_cast<unsigned long long>(options.message_size),
              options.pipeline);
  std::printf(
      "duration %.3f s (after %.2f s warmup): %llu round trips, %.0f round trips/s, "
      "%.2f MB/s\n",
      window_s, warmup_s, static_cast<unsigned long long>(round_trips), rate, mb_per_s);
  std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p999 %.1f  max %.1f\n", p50, p90, p99,
              p999, max);
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"connections\": %d, \"message_size\": %llu, \"pipeline\": %d, \"duration_s\": %.6f, "
        "\"round_trips\": %llu, \"round_trips_per_s\": %.1f, \"mb_per_s\": %.3f, "
        "\"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
        "\"max\": %.1f}}\n",
        options.connections, static_cast<unsigned long long>(options.message_size),
        options.pipeline, window_s, static_cast<unsigned long long>(round_trips), rate, mb_per_s,
        p50, p90, p99, p999, max);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load generator for a TCP echo server: echo_client --port=N [--connections=64] "
      "[--message_size=64] [--duration=3] [--pipeline=1] [--json]");
  absl::ParseCommandLine(argc, argv);
  return Main();
}
