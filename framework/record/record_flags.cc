#include "framework/record/record_flags.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, record, "",
          "record the run (each actor's message order, its inputs and the bytes it writes) and "
          "write it to this file when the server stops, for a replay (docs/simulation.md)");

namespace troupe {

absl::StatusOr<std::shared_ptr<Recorder>> RecorderFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_record);
  if (path.empty()) return std::shared_ptr<Recorder>();
  std::ofstream probe(path, std::ios::binary | std::ios::trunc);
  if (!probe) {
    return absl::InvalidArgumentError(
        absl::StrCat("--record=", path, ": cannot write it: ", std::strerror(errno)));
  }
  return std::make_shared<Recorder>();
}

absl::StatusOr<std::string> WriteRecordingFromFlags(Recorder* recorder) {
  if (recorder == nullptr) return std::string();
  const Recording recording = recorder->Finish();
  if (absl::Status s = recording.WriteFile(absl::GetFlag(FLAGS_record)); !s.ok()) return s;
  return recording.Summary();
}

}  // namespace troupe
