#include "actors/grpc/grpc_status.h"

#include <chrono>
#include <string>

namespace troupe {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status CancelReason(const grpc::ServerContextBase& context) {
  // The client's deadline passes a little before the server's copy of it (which starts when
  // the call arrives): a cancellation that close to the deadline is the deadline's.
  return context.deadline() <= std::chrono::system_clock::now() + std::chrono::milliseconds(100)
             ? absl::DeadlineExceededError("the call's deadline passed")
             : absl::CancelledError("the client cancelled the call");
}

}  // namespace troupe
