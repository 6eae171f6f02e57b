// TcpChatSession: a chat client on a TCP connection (line framing, at most 4096 bytes a line).
// Its output is paced (see OutputPacer): the stream holds at most kChatHighWaterBytes, the rest
// waits in the session, and a client that stops reading is cut off (the rooms carry on).
//
// Thread safety: an actor.
#ifndef EXAMPLES_CHAT_TCP_SESSION_H_
#define EXAMPLES_CHAT_TCP_SESSION_H_

#include <algorithm>
#include <string>

#include "actors/tcp/tcp_stream.h"
#include "examples/chat/session.h"

namespace troupe::chat {

// Output queued in a client's stream above which the session holds lines back (and reading from
// the client pauses: a client flooding a room it reads slowly is slowed down, not cut off).
inline constexpr size_t kChatHighWaterBytes = 256 << 10;

// The stream options a chat listener accepts connections with; `max_output_bytes` is the
// member's hard limit (OutputLimits::hard_bytes), also the stream's own last-resort bound.
inline TcpStreamOptions ChatStreamOptions(size_t max_output_bytes = OutputLimits().hard_bytes) {
  TcpStreamOptions options;
  options.framing.kind = FramingOptions::Kind::kLine;
  options.framing.max_frame_size = kMaxLineBytes + 1;  // the '\r' of a CRLF line
  options.high_water_bytes = kChatHighWaterBytes;
  options.max_queued_bytes = std::max(max_output_bytes, 2 * kChatHighWaterBytes);
  // A client's lines not yet handled - a room holds them until its readers took them - past
  // which reading from it pauses: its sending window.
  options.max_unprocessed_bytes = 64 << 10;
  return options;
}

using TcpSessionProtocol = Protocol<TcpReceived, TcpClosed, TcpFrameError, TcpWritable, Output>;

class TcpChatSession : public ChatSession<TcpChatSession, TcpSessionProtocol> {
 public:
  TcpChatSession(TcpStream stream, LobbyRef lobby, SessionOptions options = {})
      : ChatSession(std::move(lobby), std::move(options)), stream_(std::move(stream)) {}
  using ChatSession::Handle;

  void OnStart() override { stream_.Start(self()); }
  void Handle(TcpReceived m) { OnLine(std::move(m.bytes), std::move(m.credit)); }
  void Handle(TcpFrameError) { OnTooLong(); }
  void Handle(TcpWritable) { OnWritable(); }
  void Handle(TcpClosed) {
    OnGone();
    ctx().Stop();
  }

  // The session's transport (ChatSession).
  bool TransportHasRoom() const { return !stream_.backpressured(); }
  void TransportSend(const std::string& line) {
    if (stream_.Write(line).ok()) written_ += line.size();
  }
  uint64_t TransportTaken() const { return written_ - stream_.queued_bytes(); }
  size_t TransportQueuedBytes() const { return stream_.queued_bytes(); }
  void CloseClient() { stream_.Close(); }
  void CutOffClient(const absl::Status&) { stream_.Abort(); }  // it does not read: drop its output

 private:
  TcpStream stream_;
  uint64_t written_ = 0;  // bytes handed to the stream
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_TCP_SESSION_H_
