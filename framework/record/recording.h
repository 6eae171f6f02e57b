// Recording: what a Recorder (recorder.h) captured of a run - per actor, the order in which it
// handled its messages (each named by its sender and the sender's count of sends to it), the
// messages that came from outside (with their content where the type has a codec,
// framework/actor/record_codec.h), and the bytes it wrote to sockets. A replay
// (framework/testing/replay.h) runs the same actors against it. Stored as Protobuf
// (proto/recording.proto): a handled message takes about 6 bytes, plus the content of inputs.
//
// Thread safety: a value type; const methods from any thread.
#ifndef FRAMEWORK_RECORD_RECORDING_H_
#define FRAMEWORK_RECORD_RECORDING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/recording.pb.h"

namespace troupe {

class Recording {
 public:
  Recording() = default;
  // INVALID_ARGUMENT if `proto` is not a well-formed recording (see Parse).
  static absl::StatusOr<Recording> FromProto(record::Recording proto);
  // INVALID_ARGUMENT: not a recording, or one that contradicts itself (a type index out of
  // range, a key used twice or zero, a sender or spawner that is no recorded actor).
  static absl::StatusOr<Recording> Parse(std::string_view bytes);
  // NOT_FOUND / PERMISSION_DENIED: the file; INVALID_ARGUMENT as Parse.
  static absl::StatusOr<Recording> ReadFile(const std::string& path);

  std::string Serialize() const;
  absl::Status WriteFile(const std::string& path) const;

  const record::Recording& proto() const { return proto_; }
  size_t actors() const { return static_cast<size_t>(proto_.actors_size()); }
  uint64_t messages() const;       // handled, over all actors
  uint64_t inputs() const;         // of those, from outside any actor
  uint64_t output_bytes() const;   // written to sockets, over all actors
  // "A actors, M messages handled (I from outside), B bytes written, S bytes serialized".
  std::string Summary() const;

 private:
  friend class Recorder;  // what it writes is well-formed
  explicit Recording(record::Recording proto) : proto_(std::move(proto)) {}
  record::Recording proto_;
};

}  // namespace troupe

#endif  // FRAMEWORK_RECORD_RECORDING_H_
