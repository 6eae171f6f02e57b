// The TCP layer's time limits, in deterministic simulation (framework/testing/simulation.h):
// simulated time, so the real defaults (30 s to the first frame, 10 min of silence) are tested
// as they are, exactly, in milliseconds of real time and without a sleep. A peer that sends
// nothing is closed at the first-frame timeout; a slowloris trickling bytes that never make a
// line is closed at it too; a silent peer is closed at the idle timeout while a busy one stays;
// each runs over several seeds. (A connect that is never answered needs the kernel's backlog:
// tcp_test's ConnectGivesUpAtItsTimeout.)
#include <memory>
#include <string>
#include <vector>

#include "actors/tcp/tcp_listener.h"
#include "framework/base/status_matchers.h"
#include "framework/testing/simulation.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::Activity;
using ::troupe::testing::Simulation;
using ::troupe::testing::StatusIs;

// What the server's connection actors saw, with the simulated time of each close.
struct Seen {
  std::vector<std::string> frames;
  std::vector<std::pair<absl::Status, absl::Time>> closed;
};

using ConnProtocol = Protocol<TcpReceived, TcpClosed>;
class Recorder : public Actor<Recorder, ConnProtocol> {
 public:
  Recorder(TcpStream stream, Seen* seen) : stream_(std::move(stream)), seen_(seen) {}
  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) { seen_->frames.push_back(std::move(m.bytes)); }
  void Handle(TcpClosed c) {
    seen_->closed.emplace_back(c.status, ctx().system().scheduler().Now());
    ctx().Stop();
  }

 private:
  TcpStream stream_;
  Seen* seen_;
};

// A listener with the default stream limits (30 s to the first frame, 10 min idle); `lines`:
// line framing.
std::unique_ptr<TcpListener> Listen(Simulation& sim, Seen* seen, bool lines = false) {
  TcpListenerOptions options;
  options.host = "127.0.0.1";
  options.port = 7000;
  if (lines) options.stream.framing = {FramingOptions::Kind::kLine, 4096};
  ActorSystem* system = &sim.system();
  auto listener = TcpListener::Listen(sim.system(), options, [system, seen](TcpStream s) {
    ASSERT_TRUE(system->Spawn<Recorder>(std::move(s), seen).ok());
  });
  EXPECT_THAT(listener, ::troupe::testing::IsOk());
  return listener.ok() ? std::move(*listener) : nullptr;
}

// A client that sends `bytes` every `every` of simulated time, until its peer closes.
Activity Trickle(Simulation& sim, int fd, std::string bytes, absl::Duration every) {
  auto next = std::make_shared<absl::Time>(sim.clock().Now());
  InMemoryNetwork* net = &sim.network();
  const ManualClock* clock = &sim.clock();
  return {[=] { return !net->ClientEnded(fd) && clock->Now() >= *next; },
          [=] {
            net->ClientTrySend(fd, bytes);
            *next = clock->Now() + every;
          },
          [=] { return net->ClientEnded(fd) ? absl::InfiniteFuture() : *next; }};
}

constexpr uint64_t kSeeds = 20;

TEST(TcpSimulationTest, APeerThatSendsNothingIsClosedAtTheDefaultFirstFrameTimeout) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    Simulation sim({.seed = seed});
    Seen seen;
    auto listener = Listen(sim, &seen);  // first_frame_timeout: the default, 30 s
    const absl::Time start = sim.clock().Now();
    const int fd = *sim.network().ClientConnect(7000);
    ASSERT_TRUE(sim.RunUntil([&] { return seen.closed.size() == 1; })) << sim.Describe();
    EXPECT_THAT(seen.closed[0].first, StatusIs(absl::StatusCode::kDeadlineExceeded));
    EXPECT_EQ(seen.closed[0].second - start, absl::Seconds(30)) << sim.Describe();
    ASSERT_TRUE(sim.RunUntil([&] { return sim.network().ClientEnded(fd); }));  // closed its side
    sim.network().ClientClose(fd);
  }
}

TEST(TcpSimulationTest, ASlowlorisTricklingBytesWithoutALineIsClosedAtTheFirstFrameTimeout) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    Simulation sim({.seed = seed});
    Seen seen;
    auto listener = Listen(sim, &seen, /*lines=*/true);
    const absl::Time start = sim.clock().Now();
    const int fd = *sim.network().ClientConnect(7000);
    // A byte a second: never idle, never a line (4096 bytes would take over an hour).
    sim.AddActivity(Trickle(sim, fd, "x", absl::Seconds(1)));
    ASSERT_TRUE(sim.RunUntil([&] { return seen.closed.size() == 1; })) << sim.Describe();
    EXPECT_THAT(seen.closed[0].first, StatusIs(absl::StatusCode::kDeadlineExceeded));
    EXPECT_EQ(seen.closed[0].second - start, absl::Seconds(30)) << sim.Describe();
    EXPECT_TRUE(seen.frames.empty());
  }
}

TEST(TcpSimulationTest, ASilentPeerIsClosedAtTheDefaultIdleTimeoutAndABusyOneIsNot) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    Simulation sim({.seed = seed});
    Seen seen;
    auto listener = Listen(sim, &seen, /*lines=*/true);  // idle_timeout: the default, 10 min
    InMemoryNetwork& net = sim.network();
    const int idle = *net.ClientConnect(7000);
    const int busy = *net.ClientConnect(7000);
    ASSERT_EQ(net.ClientTrySend(idle, "hello\n"), 6u);
    sim.AddActivity(Trickle(sim, busy, "tick\n", absl::Minutes(1)));
    ASSERT_TRUE(sim.RunUntil([&] { return net.ClientEnded(idle); })) << sim.Describe();
    const absl::Time idle_closed = sim.clock().Now();
    // The busy one is still served 20 minutes on.
    ASSERT_TRUE(sim.RunUntil([&] { return sim.clock().Now() >= idle_closed + absl::Minutes(20); }));
    EXPECT_FALSE(net.ClientEnded(busy));
    ASSERT_EQ(seen.closed.size(), 1u);
    EXPECT_THAT(seen.closed[0].first, StatusIs(absl::StatusCode::kDeadlineExceeded));
    EXPECT_GE(seen.frames.size(), 30u);  // hello and a tick a minute
    net.ClientClose(idle);
    net.ClientClose(busy);
  }
}

}  // namespace
}  // namespace troupe
