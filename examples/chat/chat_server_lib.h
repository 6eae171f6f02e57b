// ChatServer: the chat system wired together - a lobby, a TCP listener whose connections become
// TcpChatSessions, and (optionally) the gRPC service - on a caller's ActorSystem. Used by
// chat_server (the binary) and by the tests.
//
// Thread safety: Start and Stop from the owning thread.
#ifndef EXAMPLES_CHAT_CHAT_SERVER_LIB_H_
#define EXAMPLES_CHAT_CHAT_SERVER_LIB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tcp/tcp_listener.h"
#include "examples/chat/chat_service.h"
#include "examples/chat/lobby.h"

namespace troupe::chat {

struct ChatServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;             // 0: pick one
  int grpc_port = -1;       // -1: no gRPC; 0: pick one
  std::string history_dir;  // empty: history in memory only
  int64_t max_connections = 20000;
  size_t max_output_bytes = 1 << 20;  // a client this far behind is disconnected
  // Slowloris limits: a client must send its first line within first_line_timeout and is
  // disconnected after idle_timeout without sending anything.
  absl::Duration first_line_timeout = absl::Seconds(60);
  absl::Duration idle_timeout = absl::Minutes(30);
};

class ChatServer {
 public:
  static absl::StatusOr<std::unique_ptr<ChatServer>> Start(ActorSystem& system,
                                                           ChatServerOptions options);
  ~ChatServer();

  int port() const { return listener_->port(); }
  int grpc_port() const { return grpc_port_; }
  uint64_t connections_served() const { return listener_->stats().accepted; }
  const LobbyRef& lobby() const { return lobby_; }

  // Stops accepting and writes every room's pending history. Returns how many rooms' history
  // could not be saved (0: all of it is on disk). Idempotent.
  int Stop();

 private:
  ChatServer(ActorSystem& system, LobbyRef lobby);

  ActorSystem& system_;
  LobbyRef lobby_;
  std::unique_ptr<TcpListener> listener_;
  ChatGrpcServer grpc_;
  int grpc_port_ = -1;
  bool stopped_ = false;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_SERVER_LIB_H_
