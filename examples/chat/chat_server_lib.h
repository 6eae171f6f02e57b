// ChatServer: the chat system wired together - a lobby, a TCP listener whose connections become
// TcpChatSessions, and (optionally) the gRPC service - on a caller's ActorSystem. Used by
// chat_server (the binary) and by the tests.
//
// Thread safety: Start and Stop from the owning thread.
#ifndef EXAMPLES_CHAT_CHAT_SERVER_LIB_H_
#define EXAMPLES_CHAT_CHAT_SERVER_LIB_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/tcp/tcp_listener.h"
#include "examples/chat/chat_cluster.h"
#include "examples/chat/chat_service.h"
#include "examples/chat/lobby.h"

namespace troupe::chat {

struct ChatServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;             // 0: pick one
  int grpc_port = -1;       // -1: no gRPC; 0: pick one
  std::string history_dir;  // empty: history in memory only
  int64_t max_connections = 20000;
  // A member's output: room senders are paced to the members that read; a member is cut off
  // when this much output waits for it (the hard limit), or when output waits and it has taken
  // none for output_stall_timeout (the soft limit); one that takes nothing for
  // output_pace_timeout stops pacing the senders meanwhile. See output_pacer.h.
  size_t max_output_bytes = OutputLimits().hard_bytes;
  absl::Duration output_stall_timeout = OutputLimits().stall_timeout;
  absl::Duration output_pace_timeout = OutputLimits().pace_timeout;
  // Slowloris limits: a client must send its first line within first_line_timeout and is
  // disconnected after idle_timeout without sending anything.
  absl::Duration first_line_timeout = absl::Seconds(60);
  absl::Duration idle_timeout = absl::Minutes(30);
  // The gRPC port's TLS, and whether it may listen beyond loopback without it (GrpcGateway).
  // The line protocol on `port` is plain TCP: it has no TLS (README, Security).
  TlsServerOptions grpc_tls;
  bool allow_insecure = false;
  // Cluster mode: this server is one node of a chat cluster (rooms anywhere in it, nicks unique
  // across it; see chat_cluster.h). Not owned; it outlives the server. Null: a single process.
  ChatCluster* cluster = nullptr;
};

class ChatServer {
 public:
  static absl::StatusOr<std::unique_ptr<ChatServer>> Start(ActorSystem& system,
                                                           ChatServerOptions options);
  ~ChatServer();

  int port() const { return listener_->port(); }
  int grpc_port() const { return grpc_port_; }
  uint64_t connections_served() const { return listener_->stats().accepted; }
  // Members (TCP or gRPC) cut off for not reading their output.
  uint64_t members_cut_off() const { return cut_off_->load(std::memory_order_relaxed); }
  const LobbyRef& lobby() const { return lobby_; }

  // Stops accepting and writes every room's pending history (in cluster mode: of the rooms this
  // node hosts; leave the cluster after this). Returns how many rooms' history could not be
  // saved (0: all of it is on disk). Idempotent.
  int Stop();

 private:
  ChatServer(ActorSystem& system, LobbyRef lobby, SessionOptions sessions, ChatCluster* cluster);

  ActorSystem& system_;
  ChatCluster* const cluster_;
  const std::shared_ptr<std::atomic<uint64_t>> cut_off_;
  LobbyRef lobby_;
  std::unique_ptr<TcpListener> listener_;
  ChatGrpcServer grpc_;
  int grpc_port_ = -1;
  bool stopped_ = false;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_SERVER_LIB_H_
