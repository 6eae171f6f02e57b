// The messages a TCP stream sends to the actor that owns it.
//
// An owner's Protocol must list TcpReceived and TcpClosed; TcpFrameError and TcpWritable are
// sent only if listed (a protocol that leaves them out does not get them).
#ifndef ACTORS_TCP_TCP_MESSAGES_H_
#define ACTORS_TCP_TCP_MESSAGES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "framework/base/credit.h"

namespace troupe {

namespace internal {
// Inbound flow control: received bytes count against their stream until the message that
// carries them is destroyed (i.e. handled, or dropped as a dead letter).
using ReceiveCredit = ::troupe::Credit;
}  // namespace internal

// Bytes from the peer: one frame (line / length-prefixed) or, for raw streams, one chunk.
// Until this message is handled its bytes count toward the stream's max_unprocessed_bytes.
struct TcpReceived {
  uint64_t stream_id;
  std::string bytes;
  internal::ReceiveCredit credit;
};

// A frame was rejected (oversized or malformed): INVALID_ARGUMENT. A line stream carries on
// with the next line; a length-prefixed stream receives nothing more (close it).
struct TcpFrameError {
  uint64_t stream_id;
  absl::Status status;
};

// The outbound queue drained below half the high-water mark after backpressure; reading from
// the peer has resumed.
struct TcpWritable {
  uint64_t stream_id;
};

// The connection is gone and its fd closed. OK: the peer closed cleanly or Close() completed;
// UNAVAILABLE: reset / broken pipe; RESOURCE_EXHAUSTED: the peer stopped reading and the
// outbound queue hit its limit; DEADLINE_EXCEEDED: connect timed out.
struct TcpClosed {
  uint64_t stream_id;
  absl::Status status;
};

}  // namespace troupe

#endif  // ACTORS_TCP_TCP_MESSAGES_H_
