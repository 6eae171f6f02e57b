// The chat server's gRPC face (proto/chat.proto): each Connect stream is a GrpcChatSession
// actor running the same protocol as a TCP client, so both meet in the same rooms. Server lines
// become ServerEvents (kind and fields parsed out); ClientEvents become protocol lines.
//
// Thread safety: GrpcChatSession is an actor; ChatGrpcServer: Start/Shutdown from one thread.
#ifndef EXAMPLES_CHAT_CHAT_SERVICE_H_
#define EXAMPLES_CHAT_CHAT_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "actors/grpc/gateway.h"
#include "actors/grpc/stream_call.h"
#include "examples/chat/session.h"
#include "proto/chat.grpc.pb.h"

namespace troupe::chat {

// "* text" -> INFO "text", "[R] N: t" -> ROOM R N t, and so on; `line` ends with '\n'.
ServerEvent ToServerEvent(const std::string& line);
// The protocol line for a ClientEvent (INVALID_ARGUMENT for an empty one).
absl::StatusOr<std::string> ToLine(const ClientEvent& event);

using ChatStream = GrpcStream<ClientEvent, ServerEvent>;
using GrpcSessionProtocol =
    Protocol<GrpcReceived<ClientEvent>, GrpcReadsDone, GrpcCallCancelled, Output>;

class GrpcChatSession : public ChatSession<GrpcChatSession, GrpcSessionProtocol> {
 public:
  GrpcChatSession(ChatStream stream, LobbyRef lobby)
      : ChatSession(std::move(lobby)), stream_(std::move(stream)) {}
  using ChatSession::Handle;

  void OnStart() override {
    if (!stream_.Start(self()).ok()) ctx().Stop();
  }
  void Handle(GrpcReceived<ClientEvent> m);
  void Handle(GrpcReadsDone);
  void Handle(GrpcCallCancelled);

  void WriteLine(const std::string& line);
  void CloseClient() { stream_.Finish(); }

 private:
  ChatStream stream_;
};

class ChatGrpcServer {
 public:
  ChatGrpcServer(ActorSystem& system, LobbyRef lobby);
  ~ChatGrpcServer();
  // Returns the bound port.
  absl::StatusOr<int> Start(const std::string& address);
  void Shutdown();

 private:
  class Service;
  std::unique_ptr<Service> service_;
  GrpcGateway gateway_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_SERVICE_H_
