// Rendezvous placement: the hash is stable (the same numbers in every process, pinned here),
// every member agrees on the owner, a join moves only what the newcomer wins (about 1/N), a
// leave only what the leaver owned, and identities spread evenly.
#include "actors/cluster/placement.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace troupe::cluster {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& names) {
  return std::vector<std::string_view>(names.begin(), names.end());
}

TEST(PlacementTest, TheHashIsTheSameInEveryProcess) {
  // Pinned values (also computed by an independent Python version of the same definition): if
  // these change, nodes built before and after the change disagree on owners.
  EXPECT_EQ(StableHash64(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(StableHash64("room/lobby"), 0xd1037f4b6fda4c9aull);
  EXPECT_NE(StableHash64("ab", 1), StableHash64("ab", 2));
  EXPECT_NE(RendezvousScore("ab", "c", "n"), RendezvousScore("a", "bc", "n"));
}

TEST(PlacementTest, AJoinMovesOnlyWhatTheNewcomerWinsAndALeaveOnlyTheLeaversShare) {
  std::vector<std::string> three = {"node-a", "node-b", "node-c"};
  std::vector<std::string> four = three;
  four.push_back("node-d");
  constexpr int kIds = 10000;
  int moved = 0, to_newcomer = 0;
  std::map<std::string, int> load;
  for (int i = 0; i < kIds; ++i) {
    const std::string id = "id-" + std::to_string(i);
    const std::string before = three[RendezvousOwner("room", id, Views(three))];
    const std::string after = four[RendezvousOwner("room", id, Views(four))];
    ++load[after];
    if (before != after) {
      ++moved;
      to_newcomer += after == "node-d";
    }
  }
  EXPECT_EQ(moved, to_newcomer);                 // nothing moves between the old members
  EXPECT_NEAR(moved, kIds / 4, kIds / 4 * 0.1);  // about 1/N moves
  for (const auto& [name, n] : load) EXPECT_NEAR(n, kIds / 4, kIds / 4 * 0.1) << name;
  // node-b leaves: only its identities move.
  std::vector<std::string> without_b = {"node-a", "node-c", "node-d"};
  for (int i = 0; i < kIds; ++i) {
    const std::string id = "id-" + std::to_string(i);
    const std::string before = four[RendezvousOwner("room", id, Views(four))];
    const std::string after = without_b[RendezvousOwner("room", id, Views(without_b))];
    if (before != "node-b") {
      EXPECT_EQ(before, after) << id;
    }
  }
  EXPECT_EQ(RendezvousOwner("room", "x", {}), -1);
}

}  // namespace
}  // namespace troupe::cluster
