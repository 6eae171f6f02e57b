// chat_replay: replays a run that chat_server recorded (--record=FILE) on the deterministic
// simulation and says whether every actor handled its messages in the recorded order and wrote
// the recorded bytes, or where the replay first went another way.
//
//   bazel run //examples/chat:chat_server -- --port=7070 --record=/tmp/chat.rec   (then ^C)
//   bazel run //examples/chat:chat_replay -- --recording=/tmp/chat.rec [--seed=N] [--transcripts]
//
// Exit status: 0 replayed as recorded; 1 diverged (the divergence on stderr); 2 bad arguments
// or not a recording.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "examples/chat/chat_replay.h"

ABSL_FLAG(std::string, recording, "", "the file chat_server --record wrote");
ABSL_FLAG(uint64_t, seed, 1, "the simulation's seed (the recording decides the order anyway)");
ABSL_FLAG(bool, transcripts, false, "print what each replayed client received");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Replays a chat_server --record=FILE run: chat_replay --recording=FILE");
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_recording);
  if (path.empty()) {
    std::fprintf(stderr, "chat_replay: --recording=FILE is required\n");
    return 2;
  }
  absl::StatusOr<troupe::Recording> recording = troupe::Recording::ReadFile(path);
  if (!recording.ok()) {
    std::fprintf(stderr, "chat_replay: %s\n", recording.status().ToString().c_str());
    return 2;
  }
  std::printf("recording: %s\n", recording->Summary().c_str());
  absl::StatusOr<std::vector<std::string>> received =
      troupe::chat::ReplayChat(*recording, {.seed = absl::GetFlag(FLAGS_seed)});
  if (!received.ok()) {
    std::fprintf(stderr, "chat_replay: %s\n", received.status().ToString().c_str());
    return received.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf("replayed as recorded: every actor handled its messages in the recorded order "
              "and wrote the recorded bytes (%zu clients)\n",
              received->size());
  if (absl::GetFlag(FLAGS_transcripts)) {
    for (size_t i = 0; i < received->size(); ++i) {
      std::printf("--- client %zu\n%s", i + 1, (*received)[i].c_str());
    }
  }
  return 0;
}
