// The echo sample's actors (tcp_echo.h, unchanged) in deterministic simulation: for each seed,
// a system on one thread and the in-memory network, 1-4 simulated clients each sending a
// seeded payload in seeded pieces while reading what comes back, the network splitting,
// delaying and reordering deliveries and refusing some connects (clients retry). Property:
// every client gets back exactly what it sent, and the server leaves no descriptor behind.
// A seed's run repeats step for step (same trace hash). SIM_SEED=N reruns one seed; SIM_SEEDS=K
// runs K (tools/sim_soak).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/echo/tcp_echo.h"
#include "framework/testing/simulation.h"
#include "gtest/gtest.h"

namespace troupe::examples {
namespace {

using ::troupe::testing::Simulation;
using ::troupe::testing::SimulationOptions;
using ::troupe::testing::SimulationOutcome;
using ::troupe::testing::FirstFailure;

constexpr int kPort = 7000;

// One simulated client: connects (again, if refused), sends its payload in pieces, reads the
// echo, and closes once all of it came back.
struct Client {
  std::string payload, echoed;
  size_t sent = 0;
  int fd = -1;
  bool closed = false;
  int connect_attempts = 0;
};

SimulationOutcome RunEcho(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  SimulationOptions options;
  options.seed = seed;
  options.workers = static_cast<int>(pick(1, 3));
  options.buffer_bytes = pick(64, 4096);  // small buffers: back-pressure in most runs
  options.faults.max_chunk = pick(0, 1) ? pick(1, 64) : 0;
  options.faults.max_delay =
      absl::Microseconds(static_cast<int64_t>(pick(0, 1) ? pick(1, 2000) : 0));
  options.faults.reorder = pick(0, 1) == 1;
  options.faults.refuse_connect = pick(0, 3) == 0 ? 0.3 : 0.0;
  Simulation sim(options);
  TcpListenerOptions listen;
  listen.host = "127.0.0.1";
  listen.port = kPort;
  auto listener = ServeTcpEcho(sim.system(), listen);
  if (!listener.ok()) return sim.Outcome(std::string(listener.status().message()));

  std::vector<Client> clients(pick(1, 4));
  for (Client& c : clients) {
    c.payload.resize(pick(1, 3000));
    for (char& ch : c.payload) ch = static_cast<char>(pick(0, 255));
  }
  InMemoryNetwork& net = sim.network();
  for (size_t i = 0; i < clients.size(); ++i) {
    Client* c = &clients[i];
    auto piece = std::make_shared<std::mt19937_64>(seed * 1000 + i);
    sim.AddActivity(
        {[c, &net] {
           if (c->closed) return false;
           if (c->fd < 0) return true;
           return (c->sent < c->payload.size() && net.ClientWritable(c->fd) > 0) ||
                  net.ClientReadable(c->fd) > 0 ||
                  c->echoed.size() == c->payload.size() || net.ClientEnded(c->fd);
         },
         [c, &net, piece] {
           if (c->fd < 0) {
             ++c->connect_attempts;
             absl::StatusOr<int> fd = net.ClientConnect(kPort);
             if (fd.ok()) c->fd = *fd;
             return;
           }
           if (c->sent < c->payload.size()) {
             const size_t n = std::uniform_int_distribution<size_t>(
                 1, std::min<size_t>(c->payload.size() - c->sent, 512))(*piece);
             c->sent += net.ClientTrySend(c->fd, std::string_view(c->payload).substr(c->sent, n));
           }
           c->echoed += net.ClientTryRecv(c->fd, 1 << 20);
           if (c->echoed.size() >= c->payload.size() || net.ClientEnded(c->fd)) {
             net.ClientClose(c->fd);
             c->closed = true;
           }
         }});
  }
  std::string failure;
  const bool finished = sim.RunUntil([&] {
    for (const Client& c : clients) {
      if (!c.closed) return false;
    }
    return true;
  });
  // The server side closes its ends too.
  sim.RunUntil([&] { return net.fds_in_use() == 1; });  // the listener's alone
  for (size_t i = 0; i < clients.size() && failure.empty(); ++i) {
    if (clients[i].echoed != clients[i].payload) {
      failure = absl::StrCat("client ", i, " got ", clients[i].echoed.size(), " bytes back of ",
                                 clients[i].payload.size(), " (or different ones)");
    }
  }
  if (failure.empty() && !finished) failure = "the clients did not finish";
  if (failure.empty() && net.fds_in_use() != 1) {
    failure = absl::StrCat(net.fds_in_use() - 1, " connections left open by the server");
  }
  listener->reset();
  return sim.Outcome(std::move(failure));
}

TEST(EchoSimulationTest, EveryClientGetsBackWhatItSentUnderEverySeed) {
  const std::string failure = FirstFailure(5000, RunEcho);
  EXPECT_TRUE(failure.empty()) << failure;
}

TEST(EchoSimulationTest, ASeedRepeatsItsRunStepForStep) {
  for (uint64_t seed : {1u, 17u, 4242u}) {
    const SimulationOutcome a = RunEcho(seed);
    const SimulationOutcome b = RunEcho(seed);
    EXPECT_EQ(a.hash, b.hash) << "seed " << seed;
    EXPECT_EQ(a.steps, b.steps) << "seed " << seed;
  }
  EXPECT_NE(RunEcho(1).hash, RunEcho(2).hash);
}

// ... and in another process too (where hash maps iterate in another order and addresses
// differ): this binary rerun with SIM_SEED prints the same trace hash.
TEST(EchoSimulationTest, ASeedRepeatsItsRunInAnotherProcess) {
  if (std::getenv("SIM_SEED") != nullptr) GTEST_SKIP() << "already the rerun";
  const SimulationOutcome here = RunEcho(4242);
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(len, 0);
  self[len] = '\0';
  FILE* rerun = ::popen(absl::StrCat("SIM_SEED=4242 '", self,
                                     "' --gtest_filter=EchoSimulationTest.EveryClient* 2>&1")
                            .c_str(),
                        "r");
  ASSERT_NE(rerun, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), rerun)) > 0;) output.append(buffer, n);
  EXPECT_EQ(::pclose(rerun), 0) << output;
  EXPECT_NE(output.find(here.Summary()), std::string::npos)
      << output;
}

}  // namespace
}  // namespace troupe::examples
