// InMemoryNetwork: TCP-like connections inside one process, without the kernel - the third
// IoBackend (InMemoryBackend, one per worker), held to the same contract as epoll and io_uring
// (io/backend.h; io/testing's conformance suite runs on all three), for tests and simulation.
//
// One network is shared by the backends of one system (a connection accepted on one worker's
// backend may be driven by another's) and by test clients (the Client* calls: blocking, for a
// test's own threads, standing in for another process). Descriptors are numbers in the
// network's own table, never kernel fds (the lowest free from 1000, so a run repeats itself).
// A connection is two bounded byte buffers, one each way: a send completes when every byte has
// fit into the peer's buffer, so a peer that does not read stops its sender (back-pressure).
// Listeners are found by port alone: every address reaches them.
//
// Faults, every random choice from one generator seeded with `faults.seed` (a run's faults
// repeat with its seed):
//  - partial receives: each delivery takes 1..max_chunk bytes of what is there;
//  - delay: bytes become readable up to max_delay after their send, in order per connection
//    (measured on `clock`);
//  - reorder: connections with something to deliver are served in a random order, not in the
//    order they became ready;
//  - refused connects: a share `refuse_connect` of connects fail ECONNREFUSED;
//  - resets: after each delivery of bytes, a share `reset` of connections are reset (both ends
//    see ECONNRESET);
//  - descriptor exhaustion: at most `fd_limit` descriptors (an accept past it fails EMFILE and
//    the connection waits in the backlog; Listen and NewSocket fail RESOURCE_EXHAUSTED);
//  - on demand: Reset(fd) resets a connection; Drop(fd) silently stops it both ways (a peer
//    that vanished without closing: bytes sent still fill the buffers, none is delivered, and
//    sends stall once the buffers are full; neither end is told).
//
// Thread safety: every method from any thread (one mutex). A backend's completions run on its
// owner thread, outside the mutex. The network lives as long as its longest-lived backend.
#ifndef IO_MEMORY_IN_MEMORY_NETWORK_H_
#define IO_MEMORY_IN_MEMORY_NETWORK_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "framework/base/clock.h"
#include "io/backend.h"

namespace troupe {

struct InMemoryFaults {
  uint64_t seed = 1;
  size_t max_chunk = 0;  // 0: a delivery takes what is there (up to 64 KiB)
  absl::Duration max_delay = absl::ZeroDuration();
  bool reorder = false;
  double refuse_connect = 0;  // 0..1
  double reset = 0;           // 0..1, per delivery of bytes
};

struct InMemoryNetworkOptions {
  size_t buffer_bytes = 256 << 10;  // each direction of a connection holds at most this
  int fd_limit = 1 << 16;           // descriptors the backends may hold at once
  InMemoryFaults faults;
  const Clock* clock = nullptr;  // for delays; null: MonotonicClock
};

struct InMemoryNetworkStats {
  uint64_t connects = 0, refused = 0, resets = 0, bytes = 0;  // bytes: into peers' buffers
};

class InMemoryBackend;

class InMemoryNetwork : public std::enable_shared_from_this<InMemoryNetwork> {
 public:
  static std::shared_ptr<InMemoryNetwork> Create(InMemoryNetworkOptions options = {});
  InMemoryNetwork(const InMemoryNetwork&) = delete;
  InMemoryNetwork& operator=(const InMemoryNetwork&) = delete;

  // A backend on this network (bind it to its owner thread before its first operation).
  std::unique_ptr<InMemoryBackend> NewBackend();

  // A test client's end of a new connection to the listener on `port` (it waits in the
  // listener's backlog until accepted); UNAVAILABLE if nobody listens there or the connect was
  // refused. Client ends are not counted against fd_limit.
  absl::StatusOr<int> ClientConnect(int port);
  // Blocks until every byte fits into the peer's buffer; false if the connection is reset or
  // closed, or at the timeout.
  bool ClientSend(int fd, std::string_view bytes, absl::Duration timeout = absl::Seconds(10));
  // Blocks until `n` bytes arrived, the stream ended or the timeout passed; returns what came.
  std::string ClientRecv(int fd, size_t n, absl::Duration timeout = absl::Seconds(10));
  void ClientShutdownWrite(int fd);  // the peer sees the end of the stream after the bytes sent
  void ClientClose(int fd);          // ... and the descriptor is gone
  // The same without blocking, for a simulation's clients (one thread drives everything):
  // what fit into the peer's buffer now (0 also when the connection is gone); the bytes
  // readable now (up to `max`); whether nothing more will come (end of stream, reset, gone).
  size_t ClientTrySend(int fd, std::string_view bytes);
  std::string ClientTryRecv(int fd, size_t max);
  bool ClientEnded(int fd);
  size_t ClientReadable(int fd);  // bytes ClientTryRecv would return now
  size_t ClientWritable(int fd);  // bytes ClientTrySend would take now
  bool ClientReset(int fd);  // the connection was reset
  // When the next delayed bytes become readable (absl::InfiniteFuture() if none wait).
  absl::Time NextDue() const;

  void Reset(int fd);
  void Drop(int fd);
  void SetFdLimit(int limit);
  int fds_in_use() const;  // the backends' descriptors (not test clients')
  InMemoryNetworkStats stats() const;

 private:
  friend class InMemoryBackend;
  struct Chunk {
    std::string bytes;
    int64_t ready_ns;  // readable from then on (delay)
  };
  struct Socket {
    enum class Kind { kUnbound, kListener, kStream } kind = Kind::kUnbound;
    uint64_t id = 0;
    int fd = -1;  // -1 while waiting in a listener's backlog
    int port = 0;
    bool client = false;               // a test client's end: no backend, no handler
    InMemoryBackend* owner = nullptr;  // where its completions are delivered
    IoHandler* handler = nullptr;
    bool queued = false;  // in its owner's ready list
    // A listener's.
    size_t backlog_max = 0;
    std::deque<uint64_t> backlog;
    bool accepting = false;
    // A connection's.
    uint64_t peer = 0;  // 0: the other end is gone
    std::deque<Chunk> in;
    size_t in_bytes = 0;
    bool fin = false;    // the peer will send nothing more (after `in`: end of stream)
    bool reset = false;  // ECONNRESET for the next receive or send
    bool dropped = false;
    bool recv_armed = false;
    bool connect_pending = false;
    int connect_result = 0;
    std::vector<iovec> send_iov;  // the outstanding send (the bytes are the caller's)
    size_t send_index = 0, send_offset = 0, send_total = 0;
    bool sending = false;
  };

  explicit InMemoryNetwork(InMemoryNetworkOptions options);

  // All below with mu_ held.
  Socket* Find(int fd);
  Socket* Get(uint64_t id);
  Socket& NewSocketLocked(Socket::Kind kind, bool client);
  absl::StatusOr<int> TakeFdLocked(Socket& s);  // RESOURCE_EXHAUSTED past fd_limit
  void ForgetLocked(Socket& s);                 // frees its descriptor, erases it
  void Own(Socket& s, InMemoryBackend* owner, IoHandler* handler);
  // Something changed for `s`: its owner's ready list, or the waiting test clients.
  void Wake(Socket& s);
  void ResetLocked(Socket& s);
  // Ends `s` as a close does: the peer sees the end of the stream (a reset if `s` had unread
  // bytes, as TCP does); a listener's waiting connections are reset.
  void CloseLocked(Socket& s);
  size_t ReadyBytes(const Socket& s, int64_t now) const;
  // Moves up to `max` readable bytes of `s` into `out`; the peer's stalled send may go on.
  size_t TakeLocked(Socket& s, size_t max, int64_t now, std::string* out);
  // Moves what fits of `s`'s outstanding send into the peer's buffer; true when all of it went.
  bool PushSendLocked(Socket& s, int64_t now);
  size_t PushLocked(Socket& to, const char* data, size_t n, int64_t now);
  bool HasWork(const Socket& s, int64_t now) const;
  // The next completion of `s` for its owner (false: none now); `s` may be gone after it.
  bool NextCompletion(Socket& s, int64_t now, std::string* recv_buffer, int* fd,
                      IoHandler** handler, Completion* c);
  bool Chance(double p);
  int64_t NowNs() const { return absl::ToUnixNanos(clock_->Now()); }

  const InMemoryNetworkOptions options_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable client_cv_;  // test clients wait here
  std::mt19937_64 random_;
  std::map<uint64_t, Socket> sockets_;
  std::map<int, uint64_t> fds_;        // descriptor -> socket
  std::map<int, uint64_t> listeners_;  // port -> listening socket
  std::set<int> free_fds_;             // below next_fd_
  int next_fd_ = 1000;
  int next_client_fd_ = 1'000'000;
  int next_port_ = 40000;
  int fd_limit_;
  int fds_in_use_ = 0;
  uint64_t next_id_ = 1;
  int64_t last_ready_ns_ = 0;  // delays keep each connection's order: never before the last
  InMemoryNetworkStats stats_;
};

// One worker's IoBackend on an InMemoryNetwork ("memory"). The contract is io/backend.h's;
// Poll() waits on a condition variable instead of the kernel.
class InMemoryBackend final : public IoBackend {
 public:
  ~InMemoryBackend() override;

  std::string_view name() const override { return "memory"; }
  absl::StatusOr<int> Listen(const SocketAddress& address, int backlog) override;
  absl::StatusOr<int> NewSocket(int family) override;
  absl::StatusOr<SocketAddress> LocalAddress(int fd) override;
  void SetNoDelay(int /*fd*/) override {}
  void Discard(int fd) override;

  void Accept(int listen_fd, IoHandler* handler) override;
  void Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) override;
  void Recv(int fd, IoHandler* handler) override;
  void StopRecv(int fd) override;
  void Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) override;
  void Close(int fd, IoHandler* handler) override;
  int Poll(absl::Duration timeout) override;
  int PollReady() override;

  InMemoryNetwork& network() { return *net_; }
  // Whether a Poll now would deliver something (posted closures, deferred or ready
  // completions, delayed bytes now due). Owner thread.
  bool HasReady();

 protected:
  void Kick() override;

 private:
  friend class InMemoryNetwork;
  explicit InMemoryBackend(std::shared_ptr<InMemoryNetwork> net) : net_(std::move(net)) {}
  // Delivers up to kMaxPerPoll ready completions; returns how many.
  int DeliverReady();
  int Settle();  // posted closures, deferred completions, ready ones

  const std::shared_ptr<InMemoryNetwork> net_;
  // Guarded by net_->mu_.
  std::deque<uint64_t> ready_;
  std::vector<std::pair<int64_t, uint64_t>> timed_;  // (when, socket): delayed bytes
  bool kicked_ = false;
  int owned_ = 0;
  std::condition_variable cv_;
  // The owner thread's: the bytes of the kRecv completion being delivered.
  std::string recv_buffer_;
};

}  // namespace troupe

#endif  // IO_MEMORY_IN_MEMORY_NETWORK_H_
