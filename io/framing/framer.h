// Framers: cut a byte stream into frames, with a maximum frame size enforced before any
// allocation.
//
//   kRaw            every received chunk is a frame (no buffering, no limit);
//   kLine           newline-delimited ("\n", a trailing "\r" is dropped). A line over the limit
//                   is reported (INVALID_ARGUMENT) and skipped up to its newline: the stream
//                   carries on with the next line (a chat server answers and continues);
//   kLengthPrefixed a uint32 big-endian length, then that many bytes. A length over the limit
//                   is reported and the framer fails for good (a binary stream cannot resync;
//                   the owner closes that connection).
// Frames lying wholly inside one fed chunk are delivered without a copy; only a partial frame
// is buffered, never more than the limit.
//
// Thread safety: none; a framer belongs to one connection.
#ifndef IO_FRAMING_FRAMER_H_
#define IO_FRAMING_FRAMER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace troupe {

struct FramingOptions {
  enum class Kind { kRaw, kLine, kLengthPrefixed };
  Kind kind = Kind::kRaw;
  size_t max_frame_size = 64 * 1024;
};

class FrameSink {
 public:
  virtual void OnFrame(std::string_view frame) = 0;   // valid during the call only
  virtual void OnFrameError(absl::Status error) = 0;  // INVALID_ARGUMENT

 protected:
  ~FrameSink() = default;
};

class Framer {
 public:
  virtual ~Framer() = default;
  // Consumes `bytes` (any chunking). Returns false once the framer has failed: the rest of
  // the stream is ignored.
  virtual bool Feed(std::string_view bytes, FrameSink& sink) = 0;
  // Bytes held while waiting for the rest of a frame.
  virtual size_t buffered() const = 0;
  // Appends `payload` as one frame to `out`; INVALID_ARGUMENT if it is over the limit (or, for
  // lines, contains a newline).
  virtual absl::Status Encode(std::string_view payload, std::string& out) const = 0;
};

std::unique_ptr<Framer> MakeFramer(const FramingOptions& options);

}  // namespace troupe

#endif  // IO_FRAMING_FRAMER_H_
