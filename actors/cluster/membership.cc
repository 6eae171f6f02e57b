#include "actors/cluster/membership.h"

#include <algorithm>

namespace troupe::cluster {

bool ClusterMember::Hosts(std::string_view kind) const {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

const ClusterMember* MembershipView::Find(std::string_view name) const {
  for (const ClusterMember& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace troupe::cluster
