#include "examples/chat/chat_replay.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "examples/chat/chat_server_lib.h"
#include "framework/testing/replay.h"

namespace troupe::chat {

absl::StatusOr<std::vector<std::string>> ReplayChat(const Recording& recording,
                                                    ChatReplayOptions options) {
  // The members: sessions spawned from outside (by the listener's accepts).
  int members = 0;
  bool lobby = false;
  for (const record::ActorLog& actor : recording.proto().actors()) {
    if (actor.spawner() != 0) continue;
    members += absl::EndsWith(actor.type(), "TcpChatSession");
    lobby |= absl::EndsWith(actor.type(), "Lobby");
  }
  if (!lobby) return absl::InvalidArgumentError("the recording has no chat server in it");
  constexpr int kPort = 7000;
  testing::Replay replay(recording, {.seed = options.seed, .workers = options.workers});
  absl::StatusOr<std::unique_ptr<ChatServer>> server =
      ChatServer::Start(replay.system(), {.port = kPort});
  if (!server.ok()) return server.status();
  InMemoryNetwork& net = replay.simulation().network();
  std::vector<int> fds;
  for (int i = 0; i < members; ++i) {
    absl::StatusOr<int> fd = net.ClientConnect(kPort);
    if (!fd.ok()) return fd.status();
    fds.push_back(*fd);
  }
  // They are accepted, as in the recorded run, before the server stops listening.
  if (!replay.simulation().RunUntil(
          [&] { return (*server)->connections_served() == static_cast<uint64_t>(members); })) {
    return absl::FailedPreconditionError(
        absl::StrCat("replay diverged: ", members, " members connected, ",
                     (*server)->connections_served(), " accepted; ", replay.Describe()));
  }
  (*server)->Stop();  // its requests to the lobby and the rooms, as chat_server makes them
  server->reset();
  if (absl::Status same = replay.Finish(); !same.ok()) return same;
  replay.simulation().RunUntil([] { return false; });  // the last bytes onto the network
  std::vector<std::string> received;
  for (int fd : fds) received.push_back(net.ClientTryRecv(fd, size_t{1} << 30));
  std::sort(received.begin(), received.end());
  return received;
}

}  // namespace troupe::chat
