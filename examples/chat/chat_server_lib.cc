#include "examples/chat/chat_server_lib.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "examples/chat/cluster_lobby.h"
#include "examples/chat/tcp_session.h"

namespace troupe::chat {

absl::StatusOr<std::unique_ptr<ChatServer>> ChatServer::Start(ActorSystem& system,
                                                              ChatServerOptions options) {
  if (!options.history_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.history_dir, error);  // before serving
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create ", options.history_dir, ": ", error.message()));
    }
  }
  absl::StatusOr<LobbyRef> lobby =
      options.cluster != nullptr ? system.Spawn<ClusterLobby>(options.cluster->node())
                                 : system.Spawn<Lobby>(options.history_dir);
  if (!lobby.ok()) return lobby.status();
  SessionOptions sessions;
  sessions.output = {.hard_bytes = options.max_output_bytes,
                     .stall_timeout = options.output_stall_timeout,
                     .pace_timeout = options.output_pace_timeout};
  std::unique_ptr<ChatServer> server(new ChatServer(system, *lobby, sessions, options.cluster));
  TcpListenerOptions listen;
  listen.host = options.host;
  listen.port = options.port;
  listen.max_connections = options.max_connections;
  listen.stream = ChatStreamOptions(options.max_output_bytes);
  listen.stream.first_frame_timeout = options.first_line_timeout;
  listen.stream.idle_timeout = options.idle_timeout;
  ActorSystem* sys = &system;
  auto listener =
      TcpListener::Listen(system, listen, [sys, lobby = *lobby, sessions](TcpStream s) {
        (void)sys->Spawn<TcpChatSession>(std::move(s), lobby, sessions);
      });
  if (!listener.ok()) return listener.status();
  server->listener_ = *std::move(listener);
  if (options.grpc_port >= 0) {
    absl::StatusOr<int> port =
        server->grpc_.Start({.address = absl::StrCat(options.host, ":", options.grpc_port),
                             .tls = options.grpc_tls,
                             .allow_insecure = options.allow_insecure});
    if (!port.ok()) return port.status();
    server->grpc_port_ = *port;
  }
  return server;
}

ChatServer::ChatServer(ActorSystem& system, LobbyRef lobby, SessionOptions sessions,
                       ChatCluster* cluster)
    : system_(system), cluster_(cluster), cut_off_(sessions.cut_off), lobby_(lobby), grpc_(system, lobby, sessions) {}

ChatServer::~ChatServer() { Stop(); }

int ChatServer::Stop() {
  if (stopped_) return 0;
  stopped_ = true;
  if (listener_) listener_->Stop();
  grpc_.Shutdown();
  if (cluster_ != nullptr) return cluster_->FlushHostedRooms();
  int unsaved = 0;
  auto rooms = system_.Await(system_.Ask(lobby_, AllRooms{}, absl::Seconds(10)));
  if (!rooms.ok()) return 1;
  for (const RoomRef& room : *rooms) {
    auto saved = system_.Await(system_.Ask(room, FlushHistory{}, absl::Seconds(10)));
    unsaved += !(saved.ok() && *saved);
  }
  return unsaved;
}

}  // namespace troupe::chat
