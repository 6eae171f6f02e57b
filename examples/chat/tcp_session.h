// TcpChatSession: a chat client on a TCP connection (line framing, at most 4096 bytes a line).
// A client that stops reading is cut off once 1 MiB of output waits for it (the stream's
// max_queued_bytes): the rooms carry on without it.
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_TCP_SESSION_H_
#define EXAMPLES_CHAT_TCP_SESSION_H_

#include <string>

#include "actors/tcp/tcp_stream.h"
#include "examples/chat/session.h"

namespace troupe::chat {

// The stream options a chat listener accepts connections with.
inline TcpStreamOptions ChatStreamOptions(size_t max_output_bytes = 1 << 20) {
  TcpStreamOptions options;
  options.framing.kind = FramingOptions::Kind::kLine;
  options.framing.max_frame_size = kMaxLineBytes + 1;  // the '\r' of a CRLF line
  // Reading from a client pauses while a quarter of its limit waits to be sent, and while 64 KiB
  // of its lines are not handled yet: a client flooding a room it reads slowly is slowed down,
  // not cut off; one that stops reading is cut off at the limit.
  options.high_water_bytes = max_output_bytes / 4;
  options.max_queued_bytes = max_output_bytes;
  options.max_unprocessed_bytes = 64 << 10;
  return options;
}

using TcpSessionProtocol = Protocol<TcpReceived, TcpClosed, TcpFrameError, Output>;

class TcpChatSession : public ChatSession<TcpChatSession, TcpSessionProtocol> {
 public:
  TcpChatSession(TcpStream stream, LobbyRef lobby)
      : ChatSession(std::move(lobby)), stream_(std::move(stream)) {}
  using ChatSession::Handle;

  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) { OnLine(std::move(m.bytes), std::move(m.credit)); }
  void Handle(TcpFrameError) { OnTooLong(); }
  void Handle(TcpClosed) {
    OnGone();
    ctx().Stop();
  }

  void WriteLine(const std::string& line) { (void)stream_.Write(line); }
  void CloseClient() { stream_.Close(); }

 private:
  TcpStream stream_;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_TCP_SESSION_H_
