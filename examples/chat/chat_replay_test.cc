// A recorded run of the chat server (chat_server_lib, unchanged) on two real workers and
// kernel sockets, replayed on the deterministic simulation: every actor handles its messages in
// the recorded order and writes the recorded bytes, and the replay's clients - which send
// nothing: the members' lines come from the recording - receive exactly what the real
// clients received. Replayed under several seeds and worker counts, the same every time.
// (tests/chat_record_e2e_test.py does the same with the binaries: chat_server --record, then
// chat_replay.)
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "examples/chat/chat_replay.h"
#include "examples/chat/chat_server_lib.h"
#include "examples/chat/chat_test_client.h"
#include "framework/base/status_matchers.h"
#include "framework/record/recorder.h"
#include "gtest/gtest.h"

namespace troupe::chat {
namespace {

using ::troupe::testing::IsOk;

constexpr int kMembers = 3;
constexpr int kLinesEach = 3;

// Reads lines until `done(line)` holds (that line included), into `transcript`.
void ReadUntil(ChatTestClient& client, std::vector<std::string>& transcript,
               const std::function<bool(const std::string&)>& done) {
  for (;;) {
    std::string line = client.Line();
    if (line == "<timeout>") {
      ADD_FAILURE() << "timed out after " << absl::StrJoin(transcript, " | ");
      return;
    }
    if (line == "<closed>") return;
    transcript.push_back(line);
    if (done(line)) return;
  }
}

// What each real client received, one string per client, sorted (which session served which
// client is the scheduler's choice).
std::vector<std::string> RecordARun(Recording* recording) {
  auto recorder = std::make_shared<Recorder>();
  std::vector<std::vector<std::string>> transcripts(kMembers);
  {
    ActorSystemOptions options;
    options.threads = 2;
    options.recorder = recorder;
    ActorSystem system(options);
    auto server = ChatServer::Start(system, {});
    EXPECT_THAT(server, IsOk());
    if (!server.ok()) return {};
    std::vector<std::unique_ptr<ChatTestClient>> clients;
    for (int i = 0; i < kMembers; ++i) {
      clients.push_back(std::make_unique<ChatTestClient>((*server)->port()));
      clients[i]->Send(absl::StrCat("/nick m", i, "\n/join room\n"));
      ReadUntil(*clients[i], transcripts[i], [](const std::string& l) {
        return l == "* joined room";
      });
    }
    for (int i = 0; i < kMembers; ++i) {
      std::string lines;
      for (int k = 0; k < kLinesEach; ++k) absl::StrAppend(&lines, "m", i, " says ", k, "\n");
      clients[i]->Send(lines);
    }
    for (int i = 0; i < kMembers; ++i) {
      int heard = 0;
      ReadUntil(*clients[i], transcripts[i], [&heard](const std::string& l) {
        return l.rfind("[room] ", 0) == 0 && ++heard == kMembers * kLinesEach;
      });
    }
    for (int i = 0; i < kMembers; ++i) {
      clients[i]->Send("/quit\n");
      ReadUntil(*clients[i], transcripts[i], [](const std::string&) { return false; });
    }
    (*server)->Stop();
  }  // the system shuts down: recorded too
  *recording = recorder->Finish();
  std::vector<std::string> out;
  for (const auto& t : transcripts) out.push_back(absl::StrCat(absl::StrJoin(t, "\n"), "\n"));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ChatReplayTest, AReplayedRunHandlesAndWritesWhatTheRecordedRunDid) {
  Recording recording;
  const std::vector<std::string> received = RecordARun(&recording);
  ASSERT_EQ(received.size(), static_cast<size_t>(kMembers));
  EXPECT_NE(received[0].find("* bye"), std::string::npos) << received[0];
  std::printf("recorded: %s\n", recording.Summary().c_str());
  ASSERT_GT(recording.output_bytes(), 0u);
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    absl::StatusOr<std::vector<std::string>> replayed =
        ReplayChat(recording, {.seed = seed, .workers = 1 + static_cast<int>(seed % 3)});
    ASSERT_THAT(replayed, IsOk()) << "seed " << seed;
    EXPECT_EQ(*replayed, received) << "seed " << seed;
  }
}

// A recording of another program (no chat server in it) is refused, not replayed into a hang.
TEST(ChatReplayTest, RefusesARecordingWithoutAChatServer) {
  auto recorder = std::make_shared<Recorder>();
  {
    ActorSystemOptions options;
    options.threads = 1;
    options.recorder = recorder;
    ActorSystem system(options);
  }
  EXPECT_EQ(ReplayChat(recorder->Finish()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace troupe::chat
