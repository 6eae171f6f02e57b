// The messages a TCP stream sends to the actor that owns it.
//
// An owner's Protocol must list TcpReceived and TcpClosed; TcpFrameError, TcpWritable and
// TcpConnected are sent only if listed (a protocol that leaves them out does not get them).
#ifndef ACTORS_TCP_TCP_MESSAGES_H_
#define ACTORS_TCP_TCP_MESSAGES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace troupe {

class TcpStream;

// Bytes from the peer: one frame (line / length-prefixed) or, for raw streams, one chunk.
struct TcpReceived {
  uint64_t stream_id;
  std::string bytes;
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
