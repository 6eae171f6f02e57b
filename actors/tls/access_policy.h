// AccessPolicy: who may reach a gRPC method or an exported actor, decided on the identity the
// peer's certificate proved (PeerIdentity) - never on anything the peer merely claims.
//
// A peer is admitted if it is verified (a certificate our CA admitted), is one of `allow` when
// that list is not empty (any of its subject alternative names, e.g.
// "spiffe://troupe.local/node-a" or a DNS name), and `check`, if set, agrees. An unverified
// peer (no TLS, or no client certificate) is never admitted by a policy.
//
// Thread safety: immutable once in use; Allows() from any thread (`check` must be thread-safe).
#ifndef ACTORS_TLS_ACCESS_POLICY_H_
#define ACTORS_TLS_ACCESS_POLICY_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/tls/peer_identity.h"

namespace troupe {

struct AccessPolicy {
  std::vector<std::string> allow;  // empty: every verified peer
  // Sees the peer and what it asks for (a gRPC method "/pkg.Service/Method", or an exported
  // actor's name and the message type); false refuses.
  std::function<bool(const PeerIdentity& peer, std::string_view what)> check;

  bool Allows(const PeerIdentity& peer, std::string_view what) const {
    if (!peer.verified) return false;
    if (!allow.empty()) {
      bool listed = false;
      for (const std::string& identity : allow) listed = listed || peer.Is(identity);
      if (!listed) return false;
    }
    return !check || check(peer, what);
  }
};

}  // namespace troupe

#endif  // ACTORS_TLS_ACCESS_POLICY_H_
