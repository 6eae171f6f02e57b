// The chat server's actors (chat_server_lib, unchanged: TCP members, rooms, the lobby, output
// pacing) in deterministic simulation: for each seed, 2-4 simulated members on the in-memory
// network (deliveries split, delayed and reordered by the seed) log in to one room; once all
// are in, each says a few lines, reading everything the server sends meanwhile, and quits once
// it has heard every line said.
// Properties: every member sees every line said, once; all members see the lines in one order
// (the room's); each sender's lines keep the order it sent them; every member gets its "* bye"
// and the server closes every connection. SIM_SEED=N reruns one seed; SIM_SEEDS=K runs K.
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/chat/chat_server_lib.h"
#include "framework/testing/simulation.h"
#include "gtest/gtest.h"

namespace troupe::chat {
namespace {

using ::troupe::testing::Activity;
using ::troupe::testing::Simulation;
using ::troupe::testing::SimulationOptions;
using ::troupe::testing::SimulationOutcome;
using ::troupe::testing::FirstFailure;

struct Member {
  std::string nick;
  int fd = -1;
  std::string out;          // what it still has to send (written as the network takes it)
  std::string in;           // received, not yet split into lines
  std::vector<std::string> lines;
  int said = 0, to_say = 0;
  size_t heard = 0;  // room lines received
  bool joined = false, quitting = false, closed = false;
};

SimulationOutcome RunChat(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  SimulationOptions options;
  options.seed = seed;
  options.workers = static_cast<int>(pick(1, 3));
  options.buffer_bytes = pick(32, 2048);
  options.faults.max_chunk = pick(0, 1) ? pick(1, 16) : 0;
  options.faults.max_delay =
      absl::Microseconds(static_cast<int64_t>(pick(0, 1) ? pick(1, 500) : 0));
  options.faults.reorder = pick(0, 1) == 1;
  Simulation sim(options);
  auto server = ChatServer::Start(sim.system(), {.port = 6000});
  if (!server.ok()) return sim.Outcome(std::string(server.status().message()));
  InMemoryNetwork& net = sim.network();

  std::vector<Member> members(pick(2, 4));
  for (size_t i = 0; i < members.size(); ++i) {
    Member& m = members[i];
    m.nick = absl::StrCat("m", i);
    m.to_say = static_cast<int>(pick(1, 5));
    absl::StatusOr<int> fd = net.ClientConnect(6000);
    if (!fd.ok()) return sim.Outcome(std::string(fd.status().message()));
    m.fd = *fd;
    m.out = absl::StrCat("/nick ", m.nick, "\n/join room\n");
  }
  auto everyone_joined = [&members] {
    return std::all_of(members.begin(), members.end(), [](const Member& m) { return m.joined; });
  };
  size_t total = 0;
  for (const Member& m : members) total += static_cast<size_t>(m.to_say);
  for (Member& member : members) {
    Member* m = &member;
    sim.AddActivity(
        {[m, &net, everyone_joined, total] {
           if (m->closed) return false;
           return (!m->out.empty() && net.ClientWritable(m->fd) > 0) ||
                  net.ClientReadable(m->fd) > 0 || net.ClientEnded(m->fd) ||
                  (everyone_joined() && m->said < m->to_say) ||
                  (m->heard == total && !m->quitting);
         },
         [m, &net, everyone_joined, total] {
           if (everyone_joined() && m->said < m->to_say) {
             m->out += absl::StrCat(m->nick, " says ", m->said++, "\n");
           } else if (m->heard == total && !m->quitting) {
             m->out += "/quit\n";
             m->quitting = true;
           }
           if (!m->out.empty()) m->out.erase(0, net.ClientTrySend(m->fd, m->out));
           m->in += net.ClientTryRecv(m->fd, 1 << 20);
           for (size_t nl; (nl = m->in.find('\n')) != std::string::npos;) {
             m->lines.push_back(m->in.substr(0, nl));
             m->in.erase(0, nl + 1);
             if (m->lines.back() == "* joined room") m->joined = true;
             if (m->lines.back().rfind("[room] ", 0) == 0) ++m->heard;
           }
           if (net.ClientEnded(m->fd)) {
             net.ClientClose(m->fd);
             m->closed = true;
           }
         }});
  }
  std::string failure;
  const bool finished = sim.RunUntil([&] {
    return std::all_of(members.begin(), members.end(), [](const Member& m) { return m.closed; });
  });
  sim.RunUntil([&] { return net.fds_in_use() == 1; });  // the listener's alone
  // The room's lines each member saw, in its order.
  std::vector<std::vector<std::string>> said(members.size());
  for (size_t i = 0; i < members.size() && failure.empty(); ++i) {
    for (const std::string& line : members[i].lines) {
      if (line.rfind("[room] ", 0) == 0) said[i].push_back(line);
    }
    if (said[i].size() != total) {
      failure = absl::StrCat(members[i].nick, " saw ", said[i].size(), " of ", total, " lines");
    } else if (said[i] != said[0]) {
      failure = absl::StrCat(members[i].nick, " saw another order than ", members[0].nick);
    } else if (std::find(members[i].lines.begin(), members[i].lines.end(), "* bye") ==
               members[i].lines.end()) {
      failure = absl::StrCat(members[i].nick, " got no \"* bye\"");
    }
  }
  for (const Member& m : members) {  // each sender's lines in the order it said them
    int next = 0;
    for (const std::string& line : said[0]) {
      if (line.rfind(absl::StrCat("[room] ", m.nick, ": "), 0) != 0) continue;
      const std::string want = absl::StrCat("[room] ", m.nick, ": ", m.nick, " says ", next);
      if (failure.empty() && line != want) {
        failure = absl::StrCat("out of order: ", line);
      }
      ++next;
    }
  }
  if (failure.empty() && !finished) failure = "the members did not finish";
  if (failure.empty() && net.fds_in_use() != 1) {
    failure = absl::StrCat(net.fds_in_use() - 1, " connections left open by the server");
  }
  (*server)->Stop();
  server->reset();
  return sim.Outcome(std::move(failure));
}

TEST(ChatSimulationTest, OneRoomOneOrderEveryLineOnceUnderEverySeed) {
  const std::string failure = FirstFailure(5000, RunChat);
  EXPECT_TRUE(failure.empty()) << failure;
}

TEST(ChatSimulationTest, ASeedRepeatsItsRunStepForStep) {
  for (uint64_t seed : {3u, 99u}) {
    const SimulationOutcome a = RunChat(seed);
    const SimulationOutcome b = RunChat(seed);
    EXPECT_EQ(a.hash, b.hash) << "seed " << seed;
    EXPECT_EQ(a.steps, b.steps) << "seed " << seed;
  }
}

}  // namespace
}  // namespace troupe::chat
