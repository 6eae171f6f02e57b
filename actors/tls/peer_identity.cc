#include "actors/tls/peer_identity.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"

namespace troupe {
namespace {

std::vector<std::string> Values(const grpc::AuthContext& auth, const char* property) {
  std::vector<std::string> out;
  for (const grpc::string_ref& v : auth.FindPropertyValues(property)) {
    out.emplace_back(v.data(), v.size());
  }
  return out;
}

}  // namespace

bool PeerIdentity::Is(std::string_view identity) const {
  if (!verified || identity.empty()) return false;
  return identity == name || std::find(sans.begin(), sans.end(), identity) != sans.end();
}

std::string PeerIdentity::ToString() const {
  if (!verified) return absl::StrCat("unverified peer at ", address);
  return absl::StrCat(name, " (", address, ")");
}

PeerIdentity PeerIdentityOf(const grpc::AuthContext* auth, std::string address) {
  PeerIdentity peer;
  peer.address = std::move(address);
  // gRPC marks a peer authenticated once its certificate chain was verified against our CA.
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return peer;
  peer.verified = true;
  peer.sans = Values(*auth, GRPC_X509_SAN_PROPERTY_NAME);
  for (const char* property : {GRPC_PEER_SPIFFE_ID_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME,
                               GRPC_X509_CN_PROPERTY_NAME}) {
    std::vector<std::string> values = Values(*auth, property);
    if (!values.empty()) {
      peer.name = std::move(values.front());
      break;
    }
  }
  return peer;
}

PeerIdentity PeerIdentityOf(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  return PeerIdentityOf(auth.get(), context.peer());
}

}  // namespace troupe
