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
  return context.deadline() <= std::chrono::system_clock::now()
             ? absl::DeadlineExceededError("the call's deadline passed")
             : absl::CancelledError("the client cancelled the call");
}

absl::Duration TimeLeft(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteDuration();  // no deadline set by the client
  }
  const auto left = deadline - std::chrono::system_clock::now();
  if (left <= std::chrono::system_clock::duration::zero()) return absl::ZeroDuration();
  return absl::FromChrono(left);
}

}  // namespace troupe
