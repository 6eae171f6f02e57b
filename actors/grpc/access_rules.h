// AccessRules: the gateway's AccessPolicy per scope - one method ("/pkg.Service/Method"), one
// service ("pkg.Service") or everything ("") - and the gRPC AuthMetadataProcessor that applies
// them to each call before any actor sees it: a refused call ends with PERMISSION_DENIED and is
// counted. The most specific scope decides (method, then service, then everything); a method no
// rule covers is open to every peer the TLS handshake admitted.
//
// Thread safety: Add before the gateway starts; For() and the processor from any thread.
#ifndef ACTORS_GRPC_ACCESS_RULES_H_
#define ACTORS_GRPC_ACCESS_RULES_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "actors/tls/access_policy.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace troupe::internal {

class AccessRules {
 public:
  // INVALID_ARGUMENT: not "", "pkg.Service" or "/pkg.Service/Method"; ALREADY_EXISTS: a rule
  // for that scope was added before.
  absl::Status Add(std::string scope, AccessPolicy policy);
  bool empty() const { return by_scope_.empty(); }
  // The rule deciding `method` ("/pkg.Service/Method"), or null if none covers it.
  const AccessPolicy* For(std::string_view method) const;

 private:
  absl::flat_hash_map<std::string, AccessPolicy> by_scope_;
};

// Runs on gRPC's thread for every call on a TLS gateway that has rules.
class AccessCheck final : public grpc::AuthMetadataProcessor {
 public:
  AccessCheck(std::shared_ptr<const AccessRules> rules,
              std::shared_ptr<std::atomic<uint64_t>> denied)
      : rules_(std::move(rules)), denied_(std::move(denied)) {}
  bool IsBlocking() const override { return false; }  // a lookup: never blocks
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  const std::shared_ptr<const AccessRules> rules_;
  const std::shared_ptr<std::atomic<uint64_t>> denied_;
};

}  // namespace troupe::internal

#endif  // ACTORS_GRPC_ACCESS_RULES_H_
