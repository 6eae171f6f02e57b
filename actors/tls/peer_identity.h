// PeerIdentity: who is on the other end of a gRPC call, as its TLS handshake proved it - what
// the actors serving gateway methods and node links see of their caller.
//
// Only what gRPC verified: the names come from the peer's certificate (its subject alternative
// names) after gRPC checked it against our CA bundle. Without TLS, or for a client that sent no
// certificate, `verified` is false and the names are empty; `address` is always set.
//
// Thread safety: a plain value.
#ifndef ACTORS_TLS_PEER_IDENTITY_H_
#define ACTORS_TLS_PEER_IDENTITY_H_

#include <string>
#include <string_view>
#include <vector>

#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"

namespace troupe {

struct PeerIdentity {
  bool verified = false;  // it presented a certificate our CA admitted
  // The peer's identity: its SPIFFE ID if its certificate has one, else its first DNS name,
  // else its subject's common name. Empty when not verified.
  std::string name;
  std::vector<std::string> sans;  // every subject alternative name (URI, DNS, IP)
  std::string address;            // as gRPC reports it, e.g. "ipv4:127.0.0.1:41234"

  // True if `identity` is the peer's name or one of its subject alternative names.
  bool Is(std::string_view identity) const;
  // "spiffe://x/y (ipv4:127.0.0.1:41234)", or "unverified peer at ...".
  std::string ToString() const;
};

PeerIdentity PeerIdentityOf(const grpc::AuthContext* auth, std::string address);
PeerIdentity PeerIdentityOf(const grpc::ServerContextBase& context);

}  // namespace troupe

#endif  // ACTORS_TLS_PEER_IDENTITY_H_
