// A recorded run of the echo sample's actors (tcp_echo, unchanged) on two real workers and
// kernel sockets, replayed on the simulation: each connection actor handles the same chunks in
// the same order and writes the same bytes, and the replay's clients (which send nothing: the
// chunks are the recording's inputs) receive what the real clients received. Raw streams: the
// chunks are as the kernel split them, so this also checks that inputs keep their boundaries.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "examples/echo/tcp_echo.h"
#include "framework/base/status_matchers.h"
#include "framework/record/recorder.h"
#include "framework/testing/replay.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"
#include "io/testing/loopback_client.h"

namespace troupe::examples {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::WaitFor;

constexpr int kClients = 4;

// What each real client sent (and got back), sorted.
std::vector<std::string> RecordARun(Recording* recording) {
  auto recorder = std::make_shared<Recorder>();
  std::vector<std::string> sent(kClients);
  {
    ActorSystemOptions options;
    options.threads = 2;
    options.recorder = recorder;
    ActorSystem system(options);
    auto listener = ServeTcpEcho(system, {.port = 0});
    EXPECT_THAT(listener, IsOk());
    if (!listener.ok()) return {};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        std::mt19937 rng(static_cast<unsigned>(i + 1));
        const int fd = ::troupe::testing::ConnectLoopback((*listener)->port());
        ASSERT_GE(fd, 0);
        for (int k = 0; k < 20; ++k) {
          std::string chunk(std::uniform_int_distribution<size_t>(1, 3000)(rng), '\0');
          for (char& c : chunk) c = static_cast<char>('a' + rng() % 26);
          ASSERT_TRUE(::troupe::testing::SendAll(fd, chunk));
          EXPECT_EQ(::troupe::testing::RecvExactly(fd, chunk.size()), chunk);
          sent[i] += chunk;
        }
        ::close(fd);
      });
    }
    for (std::thread& t : clients) t.join();
    // Every connection actor has seen its client close.
    EXPECT_TRUE(WaitFor([&] { return (*listener)->stats().open == 0; }));
    listener->reset();
  }
  *recording = recorder->Finish();
  std::sort(sent.begin(), sent.end());
  return sent;
}

TEST(EchoReplayTest, AReplayedRunReceivesAndWritesWhatTheRecordedRunDid) {
  Recording recording;
  const std::vector<std::string> sent = RecordARun(&recording);
  ASSERT_EQ(sent.size(), static_cast<size_t>(kClients));
  std::printf("recorded: %s\n", recording.Summary().c_str());
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    testing::Replay replay(recording, {.seed = seed, .buffer_bytes = 1 << 20});
    auto listener = ServeTcpEcho(replay.system(), {.port = 7000});
    ASSERT_THAT(listener, IsOk());
    InMemoryNetwork& net = replay.simulation().network();
    std::vector<int> fds;
    for (int i = 0; i < kClients; ++i) {
      absl::StatusOr<int> fd = net.ClientConnect(7000);
      ASSERT_THAT(fd, IsOk());
      fds.push_back(*fd);
    }
    ASSERT_THAT(replay.Finish(), IsOk()) << "seed " << seed;
    replay.simulation().RunUntil([] { return false; });  // the last bytes onto the network
    std::vector<std::string> echoed;
    for (int fd : fds) echoed.push_back(net.ClientTryRecv(fd, size_t{1} << 20));
    std::sort(echoed.begin(), echoed.end());
    EXPECT_EQ(echoed, sent) << "seed " << seed;
    listener->reset();
  }
}

}  // namespace
}  // namespace troupe::examples
