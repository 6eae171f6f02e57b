// The chat server's gRPC face (proto/chat.proto): each Connect stream is a GrpcChatSession
// actor running the same protocol as a TCP client, so both meet in the same rooms. Server lines
// become ServerEvents (kind and fields parsed out); ClientEvents become protocol lines.
//
// Thread safety: GrpcChatSession is an actor; ChatGrpcServer: Start/Shutdown from one thread.
#ifndef EXAMPLES_CHAT_CHAT_SERVICE_H_
#define EXAMPLES_CHAT_CHAT_SERVICE_H_

#include <deque>
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
    Protocol<GrpcReceived<ClientEvent>, GrpcReadsDone, GrpcCallCancelled, GrpcWritable, Output>;

// A chat client on a gRPC stream. Its output is paced like a TCP client's (OutputPacer): past
// the stream's high_water_writes lines wait in the session; a client cut off for not reading
// has its call cancelled (the reason is in the server's log).
class GrpcChatSession : public ChatSession<GrpcChatSession, GrpcSessionProtocol> {
 public:
  GrpcChatSession(ChatStream stream, LobbyRef lobby, SessionOptions options = {})
      : ChatSession(std::move(lobby), std::move(options)), stream_(std::move(stream)) {}
  using ChatSession::Handle;

  void OnStart() override {
    if (!stream_.Start(self()).ok()) ctx().Stop();
  }
  void Handle(GrpcReceived<ClientEvent> m);
  void Handle(GrpcReadsDone);
  void Handle(GrpcCallCancelled);
  void Handle(GrpcWritable) { OnWritable(); }

  // The session's transport (ChatSession).
  bool TransportHasRoom() const { return !stream_.backpressured(); }
  void TransportSend(const std::string& line);
  uint64_t TransportTaken() const { return stream_.writes_done(); }
  size_t TransportQueuedBytes();
  void CloseClient() { stream_.Finish(); }
  // Its replies would never be written: end the call now (the client sees CANCELLED).
  void CutOffClient(const absl::Status&) {
    stream_.Cancel();
    ctx().Stop();
  }

 private:
  ChatStream stream_;
  // Sizes of the lines handed to the stream and not yet written by gRPC, oldest first.
  std::deque<size_t> in_stream_;
  size_t in_stream_bytes_ = 0;
  uint64_t sent_ = 0;  // lines handed to the stream
};

class ChatGrpcServer {
 public:
  ChatGrpcServer(ActorSystem& system, LobbyRef lobby, SessionOptions options = {});
  ~ChatGrpcServer();
  // Returns the bound port (see GrpcGateway::Start for the errors).
  absl::StatusOr<int> Start(const GrpcServerOptions& options);
  void Shutdown();

 private:
  ActorSystem& system_;
  const LobbyRef lobby_;
  const SessionOptions options_;
  GrpcGateway gateway_;  // serves Chat/Connect by name (on the workers' completion queues)
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_SERVICE_H_
