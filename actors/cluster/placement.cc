#include "actors/cluster/placement.h"

namespace troupe::cluster {
namespace {

uint64_t Finalize(uint64_t x) {  // splitmix64's output function: spreads FNV's weak high bits
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t StableHash64(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ Finalize(seed);  // FNV-1a 64 offset basis, seeded
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  return Finalize(h);
}

uint64_t RendezvousScore(std::string_view kind, std::string_view id, std::string_view member) {
  // Lengths go in so ("ab", "c") and ("a", "bc") differ.
  uint64_t h = StableHash64(kind, kind.size());
  h = StableHash64(id, h ^ id.size());
  return StableHash64(member, h ^ member.size());
}

int RendezvousOwner(std::string_view kind, std::string_view id,
                    const std::vector<std::string_view>& members) {
  int best = -1;
  uint64_t best_score = 0;
  for (int i = 0; i < static_cast<int>(members.size()); ++i) {
    const uint64_t score = RendezvousScore(kind, id, members[i]);
    if (best < 0 || score > best_score || (score == best_score && members[i] < members[best])) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace troupe::cluster
