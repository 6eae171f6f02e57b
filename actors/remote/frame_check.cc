#include "actors/remote/frame_check.h"

#include "absl/strings/str_cat.h"

namespace troupe::internal {

absl::Status InboundFrameCheck::Accept(const node::ClientFrame& frame) {
  if (!failed_.ok()) return failed_;
  if (!hello_seen_) {
    if (!frame.has_hello() || frame.hello().protocol_version() != 1) {
      return failed_ = absl::FailedPreconditionError(
                 "a node stream must open with a Hello of protocol version 1");
    }
    hello_seen_ = true;
    peer_ = frame.hello().node();
    return absl::OkStatus();
  }
  if (!frame.has_batch()) {
    return failed_ = absl::InvalidArgumentError("expected a batch of envelopes");
  }
  // Checked whole before any is delivered: a batch is taken entirely or not at all.
  uint64_t next = expected_sequence_;
  for (const node::Envelope& envelope : frame.batch().envelopes()) {
    if (envelope.sequence() != next) {
      return failed_ = absl::InvalidArgumentError(absl::StrCat(
                 "envelope ", envelope.sequence(), " arrived where ", next, " was due"));
    }
    ++next;
  }
  expected_sequence_ = next;
  return absl::OkStatus();
}

}  // namespace troupe::internal
