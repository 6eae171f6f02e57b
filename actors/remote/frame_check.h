// InboundFrameCheck: the serving side's rules for one node stream's frames, with no I/O, so they
// can be tested and fuzzed alone. The first frame must be a Hello of protocol version 1; every
// later frame a Batch whose envelopes are numbered consecutively from 1 across the stream.
// A frame that breaks a rule ends the stream: Accept returns the error, and so does every later
// call.
//
// Thread safety: none; one per stream, used by the stream's actor.
#ifndef ACTORS_REMOTE_FRAME_CHECK_H_
#define ACTORS_REMOTE_FRAME_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "proto/node.pb.h"

namespace troupe::internal {

class InboundFrameCheck {
 public:
  // OK: `frame` is the Hello, or a Batch whose envelopes may all be delivered (in order).
  absl::Status Accept(const node::ClientFrame& frame);

  bool hello_seen() const { return hello_seen_; }
  const std::string& peer() const { return peer_; }
  // The sequence number the next envelope must carry; the last accepted is this minus one.
  uint64_t expected_sequence() const { return expected_sequence_; }

 private:
  bool hello_seen_ = false;
  std::string peer_;
  uint64_t expected_sequence_ = 1;
  absl::Status failed_;
};

}  // namespace troupe::internal

#endif  // ACTORS_REMOTE_FRAME_CHECK_H_
