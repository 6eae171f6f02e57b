// ReplayChat: replays a recorded run of the chat server (chat_server --record=FILE, or a test's
// Recorder) on the deterministic simulation: the same ChatServer on the in-memory network, as
// many clients connecting as the recording has TCP members (they send nothing: the members'
// lines are the recording's inputs), the server stopped as chat_server stops. Used by the
// chat_replay tool and chat_replay_test.
//
// Thread safety: any thread; each call runs its own simulation.
#ifndef EXAMPLES_CHAT_CHAT_REPLAY_H_
#define EXAMPLES_CHAT_CHAT_REPLAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "framework/record/recording.h"

namespace troupe::chat {

struct ChatReplayOptions {
  uint64_t seed = 1;
  int workers = 2;
};

// What each replayed client received, sorted (which session served which client is the
// simulation's choice); FAILED_PRECONDITION with the replay's first divergence if it went
// another way than the recording, INVALID_ARGUMENT if the recording has no chat server in it.
absl::StatusOr<std::vector<std::string>> ReplayChat(const Recording& recording,
                                                    ChatReplayOptions options = {});

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_REPLAY_H_
