#include "actors/grpc/access_rules.h"

#include "absl/strings/str_cat.h"
#include "actors/tls/peer_identity.h"

namespace troupe::internal {

absl::Status AccessRules::Add(std::string scope, AccessPolicy policy) {
  const bool method = !scope.empty() && scope[0] == '/' && scope.find('/', 1) != std::string::npos;
  const bool service = !scope.empty() && scope.find('/') == std::string::npos;
  if (!scope.empty() && !method && !service) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an access rule covers \"\" (everything), \"pkg.Service\" or \"/pkg.Service/Method\", "
        "not '", scope, "'"));
  }
  if (!by_scope_.emplace(scope, std::move(policy)).second) {
    return absl::AlreadyExistsError(absl::StrCat("an access rule for '", scope, "' exists"));
  }
  return absl::OkStatus();
}

const AccessPolicy* AccessRules::For(std::string_view method) const {
  const std::string key(method);
  if (auto it = by_scope_.find(key); it != by_scope_.end()) return &it->second;
  const size_t slash = key.find('/', 1);
  if (key.size() > 1 && key[0] == '/' && slash != std::string::npos) {
    if (auto it = by_scope_.find(key.substr(1, slash - 1)); it != by_scope_.end()) {
      return &it->second;
    }
  }
  if (auto it = by_scope_.find(""); it != by_scope_.end()) return &it->second;
  return nullptr;
}

grpc::Status AccessCheck::Process(const InputMetadata& metadata, grpc::AuthContext* context,
                                  OutputMetadata*, OutputMetadata*) {
  std::string method;
  if (auto it = metadata.find(":path"); it != metadata.end()) {
    method.assign(it->second.data(), it->second.size());
  }
  const AccessPolicy* policy = rules_->For(method);
  if (policy == nullptr) return grpc::Status::OK;
  const PeerIdentity peer = PeerIdentityOf(context, "");
  if (policy->Allows(peer, method)) return grpc::Status::OK;
  denied_->fetch_add(1, std::memory_order_relaxed);
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat(peer.verified ? peer.name : "an unverified peer",
                                   " may not call ", method));
}

}  // namespace troupe::internal
