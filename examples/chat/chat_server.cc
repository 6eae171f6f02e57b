// The chat server: rooms as actors over TCP (and gRPC), with persistent history.
//
//   bazel run -c opt //examples/chat:chat_server -- --port=7070 [--grpc_port=7071]
//       [--backend=epoll|uring|auto] [--threads=T] [--history_dir=DIR]
//
// One TcpChatSession actor per connection, one Room actor per room (it orders the room's
// messages), one Lobby actor (nicks, the room directory, private messages). The line protocol
// is in examples/chat/README.md. SIGINT/SIGTERM: stop accepting, write every room's pending
// history, exit 0.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "actors/tls/tls_flags.h"
#include "examples/chat/chat_server_lib.h"
#include "framework/base/stop_signals.h"
#include "framework/system/actor_system.h"
#include "io/backend_selector.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "address to listen on (the gRPC port needs --tls_* or --allow_insecure off loopback)");
ABSL_FLAG(int, port, 7070, "TCP port (0: pick one; the chosen port is printed)");
ABSL_FLAG(int, grpc_port, -1, "also serve proto/chat.proto's Chat service here (-1: off)");
ABSL_FLAG(troupe::IoBackendKind, backend, troupe::IoBackendKind::kAuto,
          "I/O backend: epoll, uring or auto");
ABSL_FLAG(int, threads, 0, "worker threads (0 = one per core)");
ABSL_FLAG(std::string, history_dir, "",
          "keep each room's messages in DIR/ROOM.log and replay them after a restart");
ABSL_FLAG(int64_t, max_connections, 20000, "open connections beyond this are refused");
ABSL_FLAG(absl::Duration, first_line_timeout, absl::Seconds(60),
          "a client that sends no complete line this long after connecting is disconnected");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(30),
          "a client that sends nothing this long is disconnected");
ABSL_FLAG(int64_t, max_output_bytes, troupe::chat::OutputLimits().hard_bytes,
          "hard limit: a client with this much output waiting is disconnected at once");
ABSL_FLAG(absl::Duration, output_stall_timeout, troupe::chat::OutputLimits().stall_timeout,
          "soft limit: a client with output waiting that takes none of it this long is "
          "disconnected");
ABSL_FLAG(absl::Duration, output_pace_timeout, troupe::chat::OutputLimits().pace_timeout,
          "a client that takes no output this long stops pacing the rooms' senders until it "
          "reads again");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A chat server built from troupe actors. Connect with //examples/chat:chat_client, nc "
      "or telnet; the protocol is in examples/chat/README.md.");
  absl::ParseCommandLine(argc, argv);
  troupe::BlockStopSignals();

  troupe::ActorSystemOptions options;
  options.threads = absl::GetFlag(FLAGS_threads);
  options.io.kind = absl::GetFlag(FLAGS_backend);
  absl::StatusOr<std::unique_ptr<troupe::ActorSystem>> system =
      troupe::ActorSystem::Create(options);
  if (!system.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", system.status().ToString().c_str());
    return 1;
  }
  troupe::ActorSystem& sys = **system;
  auto server = troupe::chat::ChatServer::Start(
      sys, {.host = absl::GetFlag(FLAGS_host),
            .port = absl::GetFlag(FLAGS_port),
            .grpc_port = absl::GetFlag(FLAGS_grpc_port),
            .history_dir = absl::GetFlag(FLAGS_history_dir),
            .max_connections = absl::GetFlag(FLAGS_max_connections),
            .max_output_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_output_bytes)),
            .output_stall_timeout = absl::GetFlag(FLAGS_output_stall_timeout),
            .output_pace_timeout = absl::GetFlag(FLAGS_output_pace_timeout),
            .first_line_timeout = absl::GetFlag(FLAGS_first_line_timeout),
            .idle_timeout = absl::GetFlag(FLAGS_idle_timeout),
            .grpc_tls = troupe::TlsServerOptionsFromFlags(),
            .allow_insecure = troupe::AllowInsecureFromFlags()});
  if (!server.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("chat on port %d\n", (*server)->port());
  if ((*server)->grpc_port() >= 0) std::printf("grpc on port %d\n", (*server)->grpc_port());
  std::fflush(stdout);
  const std::string history_dir = absl::GetFlag(FLAGS_history_dir);
  std::fprintf(stderr, "chat_server: backend %s, %d worker threads%s%s\n",
               std::string(sys.io()->backend_name()).c_str(), sys.scheduler().num_workers(),
               history_dir.empty() ? "" : ", history in ", history_dir.c_str());

  const int signal_number = troupe::WaitForStopSignal();
  // Everything said in a room so far goes to its file before the process exits.
  const int unsaved = (*server)->Stop();
  std::fprintf(stderr,
               "chat_server: stopping (signal %d): %llu connections served, %llu members cut off "
               "for not reading%s\n",
               signal_number, static_cast<unsigned long long>((*server)->connections_served()),
               static_cast<unsigned long long>((*server)->members_cut_off()),
               unsaved == 0 ? "" : ", some rooms' history NOT saved");
  sys.Shutdown();
  return unsaved == 0 ? 0 : 1;
}
