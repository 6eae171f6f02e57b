// The recording flag of troupe's sample servers (Abseil flags):
//
//   --record=PATH   record the run (recorder.h) and write it to PATH when the server stops;
//                   a test replays it (framework/testing/replay.h, docs/simulation.md)
//
// Linking this library defines the flag. A binary calls RecorderFromFlags after
// absl::ParseCommandLine, puts the result in ActorSystemOptions::recorder, and calls
// WriteRecordingFromFlags once the system has shut down.
//
// Thread safety: from the main thread.
#ifndef FRAMEWORK_RECORD_RECORD_FLAGS_H_
#define FRAMEWORK_RECORD_RECORD_FLAGS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "framework/record/recorder.h"

namespace troupe {

// Null (and OK) without --record. INVALID_ARGUMENT if PATH cannot be written (checked now, so
// a run is not recorded for nothing).
absl::StatusOr<std::shared_ptr<Recorder>> RecorderFromFlags();
// Writes what `recorder` recorded to --record's PATH; returns the recording's Summary(). OK and
// empty when `recorder` is null.
absl::StatusOr<std::string> WriteRecordingFromFlags(Recorder* recorder);

}  // namespace troupe

#endif  // FRAMEWORK_RECORD_RECORD_FLAGS_H_
