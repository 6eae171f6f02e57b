// Placement of virtual actors: which live member owns an identity, by rendezvous (highest
// random weight) hashing. Every member computes the same answer from the same view: the owner of
// (kind, id) is the member hosting `kind` with the highest Score(kind, id, member); so a join
// moves only the identities the new member now wins (about 1/N of them), and a death only the
// dead member's.
//
// The hash is StableHash64 - the same in every process, build and machine (FNV-1a over the
// bytes, then a splitmix64 finalizer) - never absl::Hash, which is salted per process.
//
// Thread safety: pure functions.
#ifndef ACTORS_CLUSTER_PLACEMENT_H_
#define ACTORS_CLUSTER_PLACEMENT_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace troupe::cluster {

uint64_t StableHash64(std::string_view bytes, uint64_t seed = 0);

// The weight of `member` for identity (kind, id).
uint64_t RendezvousScore(std::string_view kind, std::string_view id, std::string_view member);

// The index in `members` of the owner of (kind, id), or -1 if `members` is empty. Ties (which
// need a 64-bit collision) go to the smaller name, so every process agrees.
int RendezvousOwner(std::string_view kind, std::string_view id,
                    const std::vector<std::string_view>& members);

}  // namespace troupe::cluster

#endif  // ACTORS_CLUSTER_PLACEMENT_H_
