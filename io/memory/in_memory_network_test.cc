// The in-memory network's own promises, beyond the IoBackend contract (which
// io/testing:backend_conformance_test checks on it like on epoll and io_uring): every seeded
// fault, and that a seed repeats its run.
#include "io/memory/in_memory_network.h"

#include <errno.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;

struct Seen {
  int fd;
  IoOp op;
  int32_t result;
  std::string data;
};

class Recorder : public IoHandler {
 public:
  void OnCompletion(int fd, const Completion& c) override {
    seen.push_back({fd, c.op, c.result, c.op == IoOp::kRecv && c.result > 0
                                            ? std::string(c.data, c.result)
                                            : std::string()});
  }
  std::string Received(int fd) const {
    std::string all;
    for (const Seen& s : seen) {
      if (s.fd == fd && s.op == IoOp::kRecv) all += s.data;
    }
    return all;
  }
  int Count(IoOp op) const {
    int n = 0;
    for (const Seen& s : seen) n += s.op == op ? 1 : 0;
    return n;
  }
  std::vector<Seen> seen;
};

// A backend with a listener, and helpers to connect test clients and accept them.
class Net {
 public:
  explicit Net(InMemoryNetworkOptions options = {})
      : net_(InMemoryNetwork::Create(options)), backend_(net_->NewBackend()) {
    backend_->BindToCurrentThread();
    listen_fd_ = *backend_->Listen(*ParseAddress("127.0.0.1", 7000), 64);
    backend_->Accept(listen_fd_, &rec_);
  }
  bool PollUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      backend_->Poll(absl::Milliseconds(5));
    }
    return true;
  }
  // A client connected and accepted; returns {client, server}.
  std::pair<int, int> Connected() {
    const int before = rec_.Count(IoOp::kAccept);
    absl::StatusOr<int> client = net_->ClientConnect(7000);
    EXPECT_THAT(client, IsOk());
    EXPECT_TRUE(PollUntil([&] { return rec_.Count(IoOp::kAccept) > before; }));
    return {*client, rec_.seen.back().result};
  }
  InMemoryNetwork& net() { return *net_; }
  IoBackend& backend() { return *backend_; }
  Recorder& rec() { return rec_; }
  int listen_fd() const { return listen_fd_; }

 private:
  std::shared_ptr<InMemoryNetwork> net_;
  std::unique_ptr<InMemoryBackend> backend_;
  Recorder rec_;
  int listen_fd_;
};

// The sizes of the receives that delivered `bytes` from one client, with `faults`.
std::vector<int> ChunksWith(InMemoryFaults faults, const std::string& bytes) {
  Net net({.faults = faults});
  auto [client, server] = net.Connected();
  net.backend().Recv(server, &net.rec());
  EXPECT_TRUE(net.net().ClientSend(client, bytes));
  EXPECT_TRUE(net.PollUntil([&] { return net.rec().Received(server).size() == bytes.size(); }));
  EXPECT_EQ(net.rec().Received(server), bytes);
  std::vector<int> sizes;
  for (const Seen& s : net.rec().seen) {
    if (s.op == IoOp::kRecv) sizes.push_back(s.result);
  }
  return sizes;
}

TEST(InMemoryNetworkTest, PartialReceivesAreSeededAndKeepEveryByteInOrder) {
  std::string bytes;
  for (int i = 0; i < 2000; ++i) bytes += static_cast<char>('a' + i % 26);
  const std::vector<int> a = ChunksWith({.seed = 7, .max_chunk = 5}, bytes);
  for (int n : a) {
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 5);
  }
  EXPECT_GT(a.size(), 2000u / 5);
  EXPECT_EQ(ChunksWith({.seed = 7, .max_chunk = 5}, bytes), a);  // the same seed, the same run
  EXPECT_NE(ChunksWith({.seed = 8, .max_chunk = 5}, bytes), a);
}

TEST(InMemoryNetworkTest, ADelayHoldsBytesBackButKeepsTheirOrder) {
  Net net({.faults = {.max_delay = absl::Milliseconds(100)}});
  auto [client, server] = net.Connected();
  net.backend().Recv(server, &net.rec());
  std::string sent;
  for (int i = 0; i < 20; ++i) {
    const std::string part = "part" + std::to_string(i) + ";";
    ASSERT_TRUE(net.net().ClientSend(client, part));
    sent += part;
  }
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().Received(server) == sent; }));
  // The other way, to a test client.
  std::string reply = "reply";
  iovec iov{reply.data(), reply.size()};
  net.backend().Send(server, &iov, 1, &net.rec());
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().Count(IoOp::kSend) == 1; }));
  EXPECT_EQ(net.net().ClientRecv(client, 5), "reply");
}

TEST(InMemoryNetworkTest, ReorderServesReadyConnectionsInASeededOrder) {
  auto order = [](uint64_t seed) {
    Net net({.faults = {.seed = seed, .reorder = true}});
    std::vector<std::pair<int, int>> pairs;
    for (int i = 0; i < 8; ++i) pairs.push_back(net.Connected());
    for (auto [client, server] : pairs) net.backend().Recv(server, &net.rec());
    for (auto [client, server] : pairs) EXPECT_TRUE(net.net().ClientSend(client, "x"));
    net.rec().seen.clear();
    EXPECT_TRUE(net.PollUntil([&] { return net.rec().Count(IoOp::kRecv) == 8; }));
    std::vector<int> fds;
    for (const Seen& s : net.rec().seen) fds.push_back(s.fd);
    return fds;
  };
  const std::vector<int> a = order(1);
  EXPECT_EQ(order(1), a);
  bool differs = false;
  for (uint64_t seed = 2; seed < 6 && !differs; ++seed) differs = order(seed) != a;
  EXPECT_TRUE(differs) << "five seeds served the connections in one order";
}

TEST(InMemoryNetworkTest, RefusedConnectsAndResetsComeFromTheSeed) {
  auto refusals = [](uint64_t seed) {
    Net net({.faults = {.seed = seed, .refuse_connect = 0.5}});
    std::string pattern;
    for (int i = 0; i < 32; ++i) pattern += net.net().ClientConnect(7000).ok() ? '+' : '-';
    return pattern;
  };
  const std::string a = refusals(3);
  EXPECT_EQ(refusals(3), a);
  EXPECT_NE(a.find('+'), std::string::npos);
  EXPECT_NE(a.find('-'), std::string::npos);

  Net net({.faults = {.reset = 1.0}});  // every delivery of bytes resets its connection
  auto [client, server] = net.Connected();
  net.backend().Recv(server, &net.rec());
  ASSERT_TRUE(net.net().ClientSend(client, "abc"));
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().Count(IoOp::kRecv) == 2; }));
  EXPECT_EQ(net.rec().seen[net.rec().seen.size() - 2].data, "abc");
  EXPECT_EQ(net.rec().seen.back().result, -ECONNRESET);
  EXPECT_FALSE(net.net().ClientSend(client, "more"));
  EXPECT_EQ(net.net().stats().resets, 1u);
}

TEST(InMemoryNetworkTest, ADroppedConnectionDeliversNothingAndItsSendsStall) {
  Net net({.buffer_bytes = 1024});
  auto [client, server] = net.Connected();
  net.backend().Recv(server, &net.rec());
  net.net().Drop(client);
  ASSERT_TRUE(net.net().ClientSend(client, "lost"));  // into the void: nobody is told
  std::string big(4096, 'z');
  iovec iov{big.data(), big.size()};
  net.backend().Send(server, &iov, 1, &net.rec());
  net.PollUntil([] { return false; }, absl::Milliseconds(100));
  EXPECT_EQ(net.rec().Received(server), "");
  EXPECT_EQ(net.rec().Count(IoOp::kSend), 0) << "a send to a vanished peer stalls";
  EXPECT_EQ(net.net().ClientRecv(client, 1, absl::Milliseconds(50)), "");
}

TEST(InMemoryNetworkTest, DescriptorsRunOutAtTheLimitAndComeBack) {
  Net net({.fd_limit = 3});  // the listener and two more
  ASSERT_THAT(net.backend().NewSocket(AF_INET), IsOk());
  auto [client, server] = net.Connected();  // the third
  EXPECT_THAT(net.backend().NewSocket(AF_INET), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(net.backend().Listen(*ParseAddress("127.0.0.1", 0), 1),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_THAT(net.net().ClientConnect(7000), IsOk());  // waits in the backlog
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().seen.back().result == -EMFILE; }));
  net.backend().Close(server, &net.rec());
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().Count(IoOp::kClose) == 1; }));
  net.backend().Accept(net.listen_fd(), &net.rec());  // re-armed after the EMFILE
  ASSERT_TRUE(net.PollUntil([&] { return net.rec().seen.back().op == IoOp::kAccept &&
                                         net.rec().seen.back().result >= 0; }));
  EXPECT_EQ(net.rec().seen.back().result, server);  // the lowest free number again
  EXPECT_EQ(net.net().fds_in_use(), 3);
}

TEST(InMemoryNetworkTest, APortInUseIsTheSameClearErrorAsTheKernels) {
  Net net;
  EXPECT_THAT(net.backend().Listen(*ParseAddress("127.0.0.1", 7000), 1),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<int> picked = net.backend().Listen(*ParseAddress("127.0.0.1", 0), 1);
  ASSERT_THAT(picked, IsOk());
  EXPECT_GT(net.backend().LocalAddress(*picked)->port(), 0);
  EXPECT_THAT(net.net().ClientConnect(1), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace troupe
