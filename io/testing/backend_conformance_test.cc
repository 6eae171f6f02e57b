// The IoBackend conformance suite (the numbered contract in io/backend.h), run against every
// backend: the epoll reactor, the io_uring proactor (skipped, saying why, where io_uring is
// unavailable), the in-memory network's backend, and the fault-injecting fake wrapped around the
// reactor. The other end of each connection (another process, for the kernel's backends) is a
// Peer: real loopback sockets, or the in-memory network's test clients.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <future>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"
#include "io/backend.h"
#include "io/memory/in_memory_network.h"
#include "io/proactor/proactor_backend.h"
#include "io/reactor/reactor_backend.h"
#include "io/socket/socket.h"
#include "io/testing/fault_injecting_backend.h"
#include "io/testing/loopback_client.h"

namespace troupe {
namespace {

using Factory = std::function<absl::StatusOr<std::unique_ptr<IoBackend>>()>;

struct Event {
  int fd;
  IoOp op;
  int32_t result;
  std::string data;
  bool more;
};

class Recorder : public IoHandler {
 public:
  void OnCompletion(int fd, const Completion& c) override {
    Event e{fd, c.op, c.result, {}, c.more};
    if (c.op == IoOp::kRecv && c.result > 0) {
      e.data.assign(c.data, c.result);
      received[fd] += e.data;
    }
    events.push_back(std::move(e));
    if (on_event) on_event(fd, c);
  }
  int Count(IoOp op, int fd = -1) const {
    int n = 0;
    for (const Event& e : events) n += (e.op == op && (fd < 0 || e.fd == fd)) ? 1 : 0;
    return n;
  }
  const Event* Last(IoOp op) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->op == op) return &*it;
    }
    return nullptr;
  }
  std::vector<Event> events;
  std::map<int, std::string> received;
  std::function<void(int, const Completion&)> on_event;
};

int ConnectClient(int port) {
  const int fd = ::troupe::testing::ConnectLoopback(port);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  return fd;
}

// The suite's other end of a connection, blocking calls from any thread.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual int Connect(int port) = 0;
  virtual bool SendAll(int c, std::string_view bytes) = 0;
  virtual std::string RecvExactly(int c, size_t n) = 0;  // fewer at the end of the stream
  virtual void Close(int c) = 0;
  virtual void Reset(int c) = 0;  // close, the peer seeing a reset
  virtual void ShutdownWrite(int c) = 0;
  // Until RestoreFds, the backend's process has no free descriptor.
  virtual void ExhaustFds() = 0;
  virtual void RestoreFds() = 0;
};

// Real sockets on loopback (the kernel backends).
class KernelPeer final : public Peer {
 public:
  int Connect(int port) override { return ConnectClient(port); }
  bool SendAll(int c, std::string_view bytes) override {
    return ::troupe::testing::SendAll(c, std::string(bytes));
  }
  std::string RecvExactly(int c, size_t n) override {
    return ::troupe::testing::RecvExactly(c, n);
  }
  void Close(int c) override { ::close(c); }
  void Reset(int c) override {
    linger lg{1, 0};  // close() sends RST
    ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(c);
  }
  void ShutdownWrite(int c) override { ::shutdown(c, SHUT_WR); }
  void ExhaustFds() override {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    // No free descriptor: the lowest free fd number becomes the soft limit.
    const int probe = ::dup(0);
    ::close(probe);
    rlimit tight = saved_;
    tight.rlim_cur = probe;
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  }
  void RestoreFds() override { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

// The in-memory network's test clients.
class MemoryPeer final : public Peer {
 public:
  explicit MemoryPeer(InMemoryNetwork& net) : net_(net) {}
  int Connect(int port) override {
    absl::StatusOr<int> c = net_.ClientConnect(port);
    EXPECT_THAT(c, testing::IsOk());
    return c.ok() ? *c : -1;
  }
  bool SendAll(int c, std::string_view bytes) override { return net_.ClientSend(c, bytes); }
  std::string RecvExactly(int c, size_t n) override { return net_.ClientRecv(c, n); }
  void Close(int c) override { net_.ClientClose(c); }
  void Reset(int c) override {
    net_.Reset(c);
    net_.ClientClose(c);
  }
  void ShutdownWrite(int c) override { net_.ClientShutdownWrite(c); }
  void ExhaustFds() override { net_.SetFdLimit(net_.fds_in_use()); }
  void RestoreFds() override { net_.SetFdLimit(1 << 16); }

 private:
  InMemoryNetwork& net_;
};

struct Backend {
  const char* name;
  Factory make;
  std::function<std::unique_ptr<Peer>(IoBackend&)> peer;
};

std::unique_ptr<Peer> NewKernelPeer(IoBackend&) { return std::make_unique<KernelPeer>(); }

class BackendConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto backend = GetParam().make();
    if (!backend.ok() && backend.status().code() == absl::StatusCode::kUnimplemented) {
      GTEST_SKIP() << "io_uring unavailable here: " << backend.status();
    }
    ASSERT_THAT(backend, testing::IsOk());
    backend_ = std::move(*backend);
    backend_->BindToCurrentThread();
    peer_ = GetParam().peer(*backend_);
    auto addr = ParseAddress("127.0.0.1", 0);
    auto fd = backend_->Listen(*addr, 1024);
    ASSERT_THAT(fd, testing::IsOk());
    listen_fd_ = *fd;
    port_ = backend_->LocalAddress(listen_fd_)->port();
  }
  int ConnectClient(int port) { return peer_->Connect(port); }
  bool SendAll(int c, std::string_view bytes) { return peer_->SendAll(c, bytes); }
  std::string RecvExactly(int c, size_t n) { return peer_->RecvExactly(c, n); }

  void TearDown() override {
    if (backend_ != nullptr && listen_fd_ >= 0) {
      backend_->Close(listen_fd_, &rec_);
      PollUntil([&] { return rec_.Count(IoOp::kClose, listen_fd_) == 1; });
    }
  }

  bool PollUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      backend_->Poll(absl::Milliseconds(10));
    }
    return true;
  }

  // Accepts one connection from a new client; returns {server fd, client fd}.
  std::pair<int, int> AcceptOne() {
    backend_->Accept(listen_fd_, &rec_);
    const int before = rec_.Count(IoOp::kAccept);
    const int client = ConnectClient(port_);
    EXPECT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kAccept) > before; }));
    const Event* e = rec_.Last(IoOp::kAccept);
    EXPECT_GE(e->result, 0);
    return {e->result, client};
  }

  void CloseServer(int fd) {
    backend_->Close(fd, &rec_);
    ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kClose, fd) == 1; }));
  }

  std::unique_ptr<IoBackend> backend_;
  std::unique_ptr<Peer> peer_;
  Recorder rec_;
  int listen_fd_ = -1;
  int port_ = 0;
};

TEST_P(BackendConformanceTest, AcceptReceiveSendEcho) {
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(SendAll(client, "hello"));
  ASSERT_TRUE(PollUntil([&] { return rec_.received[server] == "hello"; }));
  EXPECT_TRUE(rec_.Last(IoOp::kRecv)->more);
  std::string reply = "world!";
  iovec iov{reply.data(), reply.size()};
  backend_->Send(server, &iov, 1, &rec_);
  // Point 6: never completed inside the call that started it.
  EXPECT_EQ(rec_.Count(IoOp::kSend), 0);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kSend) == 1; }));
  EXPECT_EQ(rec_.Last(IoOp::kSend)->result, 6);
  EXPECT_EQ(RecvExactly(client, 6), "world!");
  CloseServer(server);
  peer_->Close(client);
}

TEST_P(BackendConformanceTest, ManyConnectionsAcceptedContinuously) {
  backend_->Accept(listen_fd_, &rec_);
  std::vector<int> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(ConnectClient(port_));
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kAccept) == 200; }));
  for (const Event& e : rec_.events) {
    if (e.op != IoOp::kAccept) continue;
    EXPECT_GE(e.result, 0);
    EXPECT_TRUE(e.more);
    backend_->Close(e.result, &rec_);
  }
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kClose) == 200; }));
  for (int c : clients) peer_->Close(c);
}

TEST_P(BackendConformanceTest, LargeTransfersKeepOrderBothWays) {
  auto [server, client] = AcceptOne();
  std::string big(4 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  backend_->Recv(server, &rec_);
  std::thread writer([&, client = client] { ASSERT_TRUE(SendAll(client, big)); });
  ASSERT_TRUE(PollUntil([&] { return rec_.received[server].size() == big.size(); }));
  writer.join();
  EXPECT_TRUE(rec_.received[server] == big);
  // A send far larger than the socket buffer: partial writes, EPOLLOUT / short-send resubmits
  // (and the zero-copy path on io_uring).
  iovec iov[2] = {{big.data(), big.size() / 3},
                  {big.data() + big.size() / 3, big.size() - big.size() / 3}};
  backend_->Send(server, iov, 2, &rec_);
  std::string echoed;
  std::thread reader([&, client = client] { echoed = RecvExactly(client, big.size()); });
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kSend) == 1; }));
  reader.join();
  EXPECT_EQ(rec_.Last(IoOp::kSend)->result, static_cast<int32_t>(big.size()));
  EXPECT_TRUE(echoed == big);
  CloseServer(server);
  peer_->Close(client);
}

// A worker busy with actors polls only now and then; a backend whose sends wait for a kernel
// entry (io_uring: submission, completion task work) asks for a poll through WantsPoll(), so a
// busy worker's output keeps flowing. The reactor writes at once and never asks.
TEST_P(BackendConformanceTest, SendsWaitingOnTheKernelAskTheBusyOwnerToPoll) {
  auto [server, client] = AcceptOne();
  std::string big(32 << 20, 'b');  // far more than the socket buffers hold
  iovec iov{big.data(), big.size()};
  backend_->Send(server, &iov, 1, &rec_);
  if (std::string(GetParam().name) != "io_uring") {
    EXPECT_FALSE(backend_->WantsPoll());
  } else {
    EXPECT_TRUE(backend_->WantsPoll());  // 32 MiB waiting to be submitted
    // Submitted; the socket fills, the short send is resubmitted for the rest.
    for (int i = 0; i < 4; ++i) backend_->Poll(absl::ZeroDuration());
    // The peer reads nothing yet: the send stays in flight; the owner is asked every few turns.
    int turns = 0;
    while (!backend_->WantsPoll() && turns < 100) ++turns;
    EXPECT_GT(turns, 0);
    EXPECT_LT(turns, 20);
  }
  // A "busy owner" that polls only when asked (or every 61 turns, like the scheduler) still
  // gets the 32 MiB out to a reading peer.
  std::string echoed;
  std::thread reader([&, client = client] { echoed = RecvExactly(client, big.size()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (int turn = 1; rec_.Count(IoOp::kSend) == 0 && absl::Now() < deadline; ++turn) {
    if (turn % 61 == 0 || backend_->WantsPoll()) backend_->Poll(absl::ZeroDuration());
  }
  reader.join();
  EXPECT_EQ(rec_.Count(IoOp::kSend), 1);
  EXPECT_TRUE(echoed == big);
  CloseServer(server);
  peer_->Close(client);
}

TEST_P(BackendConformanceTest, PeerCloseEndsTheReceive) {
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(SendAll(client, "bye"));
  peer_->Close(client);
  ASSERT_TRUE(PollUntil([&] {
    const Event* e = rec_.Last(IoOp::kRecv);
    return e != nullptr && e->result == 0;
  }));
  EXPECT_EQ(rec_.received[server], "bye");
  EXPECT_FALSE(rec_.Last(IoOp::kRecv)->more);
  CloseServer(server);
}

// Data and the peer's FIN already waiting when the receive is armed (one readiness edge for
// both): the data is delivered and so is the end of the stream. Found by the TCP tests: an
// edge-triggered reactor that takes a short read for "drained" never saw the FIN.
TEST_P(BackendConformanceTest, DataAndCloseArrivingTogetherStillEndTheReceive) {
  auto [server, client] = AcceptOne();
  ASSERT_TRUE(SendAll(client, "last words"));
  peer_->Close(client);
  absl::SleepFor(absl::Milliseconds(50));  // both are queued on the server's socket now
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(PollUntil([&] {
    const Event* e = rec_.Last(IoOp::kRecv);
    return e != nullptr && e->result == 0;
  }, absl::Seconds(3)));
  EXPECT_EQ(rec_.received[server], "last words");
  CloseServer(server);
}

// The same, with the readiness edge spent while reading was paused: resuming must still reach
// the end of the stream (the reactor once took the short read of "bc" for "drained").
TEST_P(BackendConformanceTest, CloseArrivingWhilePausedEndsTheResumedReceive) {
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(SendAll(client, "a"));
  ASSERT_TRUE(PollUntil([&] { return rec_.received[server] == "a"; }));
  backend_->StopRecv(server);
  ASSERT_TRUE(SendAll(client, "bc"));
  peer_->Close(client);
  for (int i = 0; i < 5; ++i) backend_->Poll(absl::Milliseconds(10));  // the edge comes now
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(PollUntil([&] {
    const Event* e = rec_.Last(IoOp::kRecv);
    return e != nullptr && e->result == 0;
  }, absl::Seconds(3)));
  EXPECT_EQ(rec_.received[server], "abc");
  CloseServer(server);
}

TEST_P(BackendConformanceTest, PeerResetFailsTheSend) {
  auto [server, client] = AcceptOne();
  peer_->Reset(client);
  std::string big(8 << 20, 'x');
  iovec iov{big.data(), big.size()};
  // Real time: on loopback the kernel needs a moment to deliver the RST to the server.
  absl::SleepFor(absl::Milliseconds(20));
  backend_->Send(server, &iov, 1, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kSend) == 1; }));
  const int32_t r = rec_.Last(IoOp::kSend)->result;
  EXPECT_TRUE(r == -ECONNRESET || r == -EPIPE) << r;
  CloseServer(server);
}

TEST_P(BackendConformanceTest, StopRecvPausesAndRecvResumes) {
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(SendAll(client, "one"));
  ASSERT_TRUE(PollUntil([&] { return rec_.received[server] == "one"; }));
  backend_->StopRecv(server);
  PollUntil([] { return false; }, absl::Milliseconds(50));  // let a cancellation settle
  ASSERT_TRUE(SendAll(client, "two"));
  PollUntil([] { return false; }, absl::Milliseconds(100));
  EXPECT_EQ(rec_.received[server], "one");
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.received[server] == "onetwo"; }));
  CloseServer(server);
  peer_->Close(client);
}

// A pause is hard (contract point 3): a handler that stops receiving from inside a completion,
// as a flow-controlled owner does, is told nothing more while megabytes are still arriving -
// io_uring's multishot receive had already drained the socket into provided buffers, and
// delivered them, before this was fixed. Resumed, it gets every byte, in order, then the end.
TEST_P(BackendConformanceTest, NothingIsDeliveredWhilePausedWithDataInFlight) {
  auto [server, client] = AcceptOne();
  std::string sent(8 << 20, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + (i >> 10));
  std::thread sender([&, client = client] {
    EXPECT_TRUE(SendAll(client, sent));
    peer_->ShutdownWrite(client);
  });
  absl::SleepFor(absl::Milliseconds(50));  // a few MiB queued before the first receive
  bool paused = false;
  size_t after_pause = 0;
  rec_.on_event = [&](int fd, const Completion& c) {
    if (fd != server || c.op != IoOp::kRecv || c.result <= 0) return;
    if (paused) {
      after_pause += c.result;
    } else {
      paused = true;
      backend_->StopRecv(server);
    }
  };
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(PollUntil([&] { return paused; }));
  PollUntil([] { return false; }, absl::Milliseconds(200));
  EXPECT_EQ(after_pause, 0u) << "bytes delivered after StopRecv";
  const size_t before_resume = rec_.received[server].size();
  EXPECT_LT(before_resume, sent.size());
  // Resume, pausing again after each completion for a while: the held bytes keep their place.
  rec_.on_event = nullptr;
  for (int i = 0; i < 3; ++i) {
    const size_t at = rec_.received[server].size();
    rec_.on_event = [&](int fd, const Completion& c) {
      if (fd == server && c.op == IoOp::kRecv && c.result > 0) backend_->StopRecv(server);
    };
    backend_->Recv(server, &rec_);
    ASSERT_TRUE(PollUntil([&] { return rec_.received[server].size() > at; }));
    PollUntil([] { return false; }, absl::Milliseconds(20));
  }
  rec_.on_event = nullptr;
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(PollUntil([&] {
    const Event* e = rec_.Last(IoOp::kRecv);
    return e != nullptr && e->result == 0;
  }));
  sender.join();
  EXPECT_TRUE(rec_.received[server] == sent) << "received " << rec_.received[server].size();
  CloseServer(server);
  peer_->Close(client);
}

TEST_P(BackendConformanceTest, CloseEndsPendingOperationsWithOneCloseCompletion) {
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);  // pending: the client sends nothing
  // A pending send too: more than the socket buffers hold while the client does not read.
  std::string big(16 << 20, 'y');
  iovec iov{big.data(), big.size()};
  backend_->Send(server, &iov, 1, &rec_);
  PollUntil([] { return false; }, absl::Milliseconds(30));
  const size_t before = rec_.events.size();
  backend_->Close(server, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kClose, server) == 1; }));
  PollUntil([] { return false; }, absl::Milliseconds(50));
  ASSERT_EQ(rec_.events.size(), before + 1) << "only the kClose completion after Close()";
  EXPECT_EQ(rec_.events.back().op, IoOp::kClose);
  peer_->Close(client);
}

TEST_P(BackendConformanceTest, ConnectSucceedsOrReportsRefusal) {
  backend_->Accept(listen_fd_, &rec_);
  auto addr = ParseAddress("127.0.0.1", port_);
  int fd = *backend_->NewSocket(AF_INET);
  backend_->Connect(fd, addr->get(), addr->length, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kConnect) == 1; }));
  EXPECT_EQ(rec_.Last(IoOp::kConnect)->result, 0);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kAccept) == 1; }));
  backend_->Close(rec_.Last(IoOp::kAccept)->result, &rec_);
  backend_->Close(fd, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kClose) == 2; }));

  // A port nobody listens on: a fresh listener closed at once frees one.
  auto closed = backend_->Listen(*ParseAddress("127.0.0.1", 0), 1);
  const int dead_port = backend_->LocalAddress(*closed)->port();
  backend_->Discard(*closed);
  auto dead = ParseAddress("127.0.0.1", dead_port);
  int fd2 = *backend_->NewSocket(AF_INET);
  backend_->Connect(fd2, dead->get(), dead->length, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kConnect) == 2; }));
  EXPECT_EQ(rec_.Last(IoOp::kConnect)->result, -ECONNREFUSED);
  CloseServer(fd2);
}

TEST_P(BackendConformanceTest, AcceptReportsFdExhaustionAndCanBeRearmed) {
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(ConnectClient(port_));
  peer_->ExhaustFds();
  backend_->Accept(listen_fd_, &rec_);
  const bool reported = PollUntil([&] { return rec_.Count(IoOp::kAccept) >= 1; });
  peer_->RestoreFds();
  ASSERT_TRUE(reported);
  const Event first = rec_.events.front();
  EXPECT_EQ(first.result, -EMFILE);
  EXPECT_FALSE(first.more);
  // The owner backs off, then re-arms: the waiting connections are all accepted.
  backend_->Accept(listen_fd_, &rec_);
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kAccept) == 4; }));
  for (const Event& e : rec_.events) {
    if (e.op == IoOp::kAccept && e.result >= 0) backend_->Close(e.result, &rec_);
  }
  ASSERT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kClose) == 3; }));
  for (int c : clients) peer_->Close(c);
}

TEST_P(BackendConformanceTest, WakeAndPostFromAnotherThread) {
  std::atomic<bool> ran{false};
  std::thread other([&] {
    // Real time: the owner is asleep in Poll by then, so Post has to wake it.
    absl::SleepFor(absl::Milliseconds(30));
    backend_->Post([&] { ran = true; });
  });
  const absl::Time start = absl::Now();
  while (!ran) backend_->Poll(absl::InfiniteDuration());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  other.join();
  EXPECT_EQ(IoBackend::Current(), backend_.get());
}

// The hold: one thread at a time drives a backend. A shareable one is taken by whoever asks
// first while nobody has it; one that is not is always its home thread's, never another's.
TEST_P(BackendConformanceTest, OneThreadAtATimeHoldsTheBackend) {
  const bool shareable = backend_->shareable();
  ASSERT_TRUE(backend_->TryHold());
  EXPECT_TRUE(backend_->HeldByCurrentThread());
  EXPECT_EQ(backend_->TryHold(), !shareable);  // a shareable backend's hold is not reentrant
  {
    IoBackend::Hold nested(*backend_);
    EXPECT_TRUE(nested);
  }
  EXPECT_TRUE(backend_->HeldByCurrentThread());  // a nested Hold leaves it held
  std::thread([&] {
    EXPECT_FALSE(backend_->HeldByCurrentThread());
    EXPECT_FALSE(backend_->TryHold());
    IoBackend::Hold hold(*backend_);
    EXPECT_FALSE(hold);
  }).join();
  backend_->Release();
  EXPECT_EQ(backend_->HeldByCurrentThread(), !shareable);
  bool other_held = false;
  std::thread([&] {
    other_held = backend_->TryHold();
    if (!other_held) return;
    EXPECT_TRUE(backend_->HeldByCurrentThread());
    EXPECT_FALSE(std::async(std::launch::async, [&] { return backend_->TryHold(); }).get());
    backend_->Release();
  }).join();
  EXPECT_EQ(other_held, shareable);
  IoBackend::Hold hold(*backend_);
  EXPECT_TRUE(hold);
}

// A shareable backend driven by another thread that holds it: that thread's Poll delivers the
// completions of operations the home thread started, and its own operations work there.
TEST_P(BackendConformanceTest, AShareableBackendIsDrivenByWhoeverHoldsIt) {
  if (!backend_->shareable()) GTEST_SKIP() << GetParam().name << " is driven by its home only";
  auto [server, client] = AcceptOne();
  backend_->Recv(server, &rec_);
  ASSERT_TRUE(SendAll(client, "ping"));
  std::thread([&] {
    ASSERT_TRUE(backend_->TryHold());
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (rec_.received[server] != "ping" && absl::Now() < deadline) {
      backend_->Poll(absl::Milliseconds(10));
    }
    std::string reply = "pong";
    iovec iov{reply.data(), reply.size()};
    backend_->Send(server, &iov, 1, &rec_);
    while (rec_.Count(IoOp::kSend) == 0 && absl::Now() < deadline) {
      backend_->Poll(absl::Milliseconds(10));
    }
    backend_->Release();
  }).join();
  EXPECT_EQ(rec_.received[server], "ping");
  ASSERT_EQ(rec_.Count(IoOp::kSend), 1);
  EXPECT_EQ(rec_.Last(IoOp::kSend)->result, 4);
  EXPECT_EQ(RecvExactly(client, 4), "pong");
  CloseServer(server);
  peer_->Close(client);
}

// A shareable backend is let go while its driver waits in the kernel: another thread takes
// the hold meanwhile, and what its operation completes at once (a send) wakes the waiter when
// the hold is released, so the waiter's Poll delivers it instead of sleeping on.
TEST_P(BackendConformanceTest, AShareableBackendIsLetGoWhileItsDriverWaitsInTheKernel) {
  if (!backend_->shareable()) GTEST_SKIP() << GetParam().name << " is driven by its home only";
  auto [server, client] = AcceptOne();
  std::atomic<bool> polling{false};
  absl::Duration waited;
  std::thread driver([&] {
    IoBackend::Hold hold(*backend_);
    ASSERT_TRUE(hold);
    polling = true;
    const absl::Time start = absl::Now();
    while (rec_.Count(IoOp::kSend) == 0 && absl::Now() - start < absl::Seconds(20)) {
      backend_->Poll(absl::Seconds(10));
    }
    waited = absl::Now() - start;
  });
  while (!polling) std::this_thread::yield();
  bool held = false;
  for (const absl::Time end = absl::Now() + absl::Seconds(5); !held && absl::Now() < end;) {
    held = backend_->TryHold();
    if (!held) absl::SleepFor(absl::Microseconds(100));
  }
  EXPECT_TRUE(held) << "the hold was kept through the kernel wait";
  std::string reply = "pong";
  if (held) {
    iovec iov{reply.data(), reply.size()};
    backend_->Send(server, &iov, 1, &rec_);  // done at once: its completion waits for a poll
    backend_->Release();                     // ... which this wakes
  }
  driver.join();
  ASSERT_EQ(rec_.Count(IoOp::kSend), 1);
  EXPECT_LT(waited, absl::Seconds(5)) << "the waiter slept through the send's completion";
  EXPECT_EQ(RecvExactly(client, 4), "pong");
  CloseServer(server);
  peer_->Close(client);
}

// SendNow: a send made at once by the calling thread, no completion, where the backend
// sends_now() (epoll); a clear refusal elsewhere, which leaves the socket untouched.
TEST_P(BackendConformanceTest, SendNowSendsAtOnceOrSaysItCannot) {
  auto [server, client] = AcceptOne();
  const int64_t sent = backend_->SendNow(server, "now", 3);
  if (!backend_->sends_now()) {
    EXPECT_EQ(sent, -EOPNOTSUPP);
    EXPECT_EQ(backend_->stats().sent_now, 0u);
  } else {
    EXPECT_EQ(sent, 3);
    EXPECT_EQ(backend_->stats().sent_now, 1u);
    EXPECT_EQ(RecvExactly(client, 3), "now");
  }
  backend_->Poll(absl::ZeroDuration());
  EXPECT_EQ(rec_.Count(IoOp::kSend), 0);
  CloseServer(server);
  peer_->Close(client);
}

TEST_P(BackendConformanceTest, PollSleepsWhenIdle) {
  // Idle polls block until their timeout (an occasional spurious return is allowed).
  int polls = 0;
  const absl::Time end = absl::Now() + absl::Milliseconds(200);
  while (absl::Now() < end) {
    EXPECT_EQ(backend_->Poll(absl::Milliseconds(20)), 0);
    ++polls;
  }
  EXPECT_LE(polls, 20);
}

absl::StatusOr<std::unique_ptr<IoBackend>> MakeReactor() {
  auto b = ReactorBackend::Create();
  if (!b.ok()) return b.status();
  return std::unique_ptr<IoBackend>(std::move(*b));
}

absl::StatusOr<std::unique_ptr<IoBackend>> MakeProactor() {
  auto b = ProactorBackend::Create();
  if (!b.ok()) return b.status();
  return std::unique_ptr<IoBackend>(std::move(*b));
}

absl::StatusOr<std::unique_ptr<IoBackend>> MakeMemory() {
  return std::unique_ptr<IoBackend>(InMemoryNetwork::Create()->NewBackend());
}

std::unique_ptr<Peer> NewMemoryPeer(IoBackend& backend) {
  return std::make_unique<MemoryPeer>(static_cast<InMemoryBackend&>(backend).network());
}

absl::StatusOr<std::unique_ptr<IoBackend>> MakeFake() {
  auto inner = MakeReactor();
  if (!inner.ok()) return inner.status();
  return std::unique_ptr<IoBackend>(new FaultInjectingBackend(std::move(*inner)));
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformanceTest,
                         ::testing::Values(Backend{"epoll", MakeReactor, NewKernelPeer},
                                           Backend{"io_uring", MakeProactor, NewKernelPeer},
                                           Backend{"memory", MakeMemory, NewMemoryPeer},
                                           Backend{"fake", MakeFake, NewKernelPeer}),
                         [](const auto& info) {
                           return std::string(info.param.name == std::string("io_uring")
                                                  ? "uring"
                                                  : info.param.name);
                         });

// The fake's own injections.
TEST(FaultInjectingBackendTest, InjectsAcceptAndSendErrorsAndSplitsReceives) {
  auto inner = MakeReactor();
  ASSERT_THAT(inner, testing::IsOk());
  FaultInjectingBackend fake(std::move(*inner));
  fake.BindToCurrentThread();
  Recorder rec;
  auto listen_fd = ListenTcp(*ParseAddress("127.0.0.1", 0), 16);
  const int port = LocalAddress(*listen_fd)->port();
  auto poll_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) fake.Poll(absl::Milliseconds(10));
    return done();
  };
  fake.InjectAcceptError(EMFILE);
  fake.Accept(*listen_fd, &rec);
  ASSERT_TRUE(poll_until([&] { return rec.Count(IoOp::kAccept) == 1; }));
  EXPECT_EQ(rec.events[0].result, -EMFILE);
  fake.Accept(*listen_fd, &rec);
  const int client = ConnectClient(port);
  ASSERT_TRUE(poll_until([&] { return rec.Count(IoOp::kAccept) == 2; }));
  const int server = rec.Last(IoOp::kAccept)->result;
  fake.SplitReceives(1);
  fake.Recv(server, &rec);
  ASSERT_TRUE(::troupe::testing::SendAll(client, "abcd"));
  ASSERT_TRUE(poll_until([&] { return rec.received[server] == "abcd"; }));
  EXPECT_EQ(rec.Count(IoOp::kRecv, server), 4);
  fake.InjectSendError(ECONNRESET);
  std::string data = "x";
  iovec iov{data.data(), 1};
  fake.Send(server, &iov, 1, &rec);
  ASSERT_TRUE(poll_until([&] { return rec.Count(IoOp::kSend) == 1; }));
  EXPECT_EQ(rec.Last(IoOp::kSend)->result, -ECONNRESET);
  fake.Close(server, &rec);
  fake.Close(*listen_fd, &rec);
  ASSERT_TRUE(poll_until([&] { return rec.Count(IoOp::kClose) == 2; }));
  ::close(client);
}

}  // namespace
}  // namespace troupe
