// The one mapping between absl::Status and grpc::Status (they share the canonical codes).
//
// Thread safety: free functions.
#ifndef ACTORS_GRPC_GRPC_STATUS_H_
#define ACTORS_GRPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace troupe {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Why a call ended without its server: DEADLINE_EXCEEDED if its deadline has passed (or is
// within 100 ms: the client's clock runs ahead of the server's copy), else CANCELLED (the client
// went away, or the server is shutting down).
absl::Status CancelReason(const grpc::ServerContextBase& context);

}  // namespace troupe

#endif  // ACTORS_GRPC_GRPC_STATUS_H_
