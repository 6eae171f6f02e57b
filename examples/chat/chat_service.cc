#include "examples/chat/chat_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace troupe::chat {
namespace {

// "[ROOM] NICK: text" (no marker, no newline) into its fields; false if it is not one.
bool ParseRoomLine(absl::string_view line, absl::string_view open, ServerEvent* event) {
  if (!absl::StartsWith(line, open)) return false;
  const size_t close = line.find("] ");
  const size_t colon = line.find(": ", close == absl::string_view::npos ? 0 : close);
  if (close == absl::string_view::npos || colon == absl::string_view::npos) return false;
  event->set_room(std::string(line.substr(1, close - 1)));
  event->set_nick(std::string(line.substr(close + 2, colon - close - 2)));
  event->set_text(std::string(line.substr(colon + 2)));
  return true;
}

}  // namespace

ServerEvent ToServerEvent(const std::string& full_line) {
  absl::string_view line = full_line;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  ServerEvent event;
  event.set_line(std::string(line));
  if (absl::StartsWith(line, "* ")) {
    event.set_kind(ServerEvent::INFO);
    event.set_text(std::string(line.substr(2)));
  } else if (absl::StartsWith(line, "! ")) {
    event.set_kind(ServerEvent::ERROR);
    event.set_text(std::string(line.substr(2)));
  } else if (absl::StartsWith(line, "# ")) {
    event.set_kind(ServerEvent::HISTORY);
    ParseRoomLine(line.substr(2), "[", &event);
  } else if (ParseRoomLine(line, "[pm] ", &event)) {
    event.set_kind(ServerEvent::PRIVATE);
    event.clear_room();
  } else {
    event.set_kind(ServerEvent::ROOM);
    ParseRoomLine(line, "[", &event);
  }
  return event;
}

absl::StatusOr<std::string> ToLine(const ClientEvent& e) {
  switch (e.command_case()) {
    case ClientEvent::kNick:
      return absl::StrCat("/nick ", e.nick());
    case ClientEvent::kJoin:
      return absl::StrCat("/join ", e.join());
    case ClientEvent::kLeave:
      return absl::StrCat("/leave ", e.leave());
    case ClientEvent::kSay:
      if (e.say().room().empty()) {
        if (absl::StartsWith(e.say().text(), "/")) return absl::StrCat("/say ", e.say().text());
        return e.say().text();
      }
      return absl::StrCat("/say ", e.say().room(), " ", e.say().text());
    case ClientEvent::kMsg:
      return absl::StrCat("/msg ", e.msg().nick(), " ", e.msg().text());
    case ClientEvent::kRooms:
      return std::string("/rooms");
    case ClientEvent::kWho:
      return absl::StrCat("/who ", e.who());
    case ClientEvent::kQuit:
      return std::string("/quit");
    case ClientEvent::COMMAND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("empty event: set one command");
}

void GrpcChatSession::Handle(GrpcReceived<ClientEvent> m) {
  absl::StatusOr<std::string> line = ToLine(m.message);
  if (!line.ok()) {
    Write(ErrorLine(line.status().message()));
    return;
  }
  // Newlines cannot be sent over TCP either: a line is one line.
  if (line->find('\n') != std::string::npos) {
    Write(ErrorLine("a message is one line"));
    return;
  }
  OnLine(*std::move(line), std::move(m.credit));
}

void GrpcChatSession::Handle(GrpcReadsDone) {
  OnGone();
  stream_.Finish();
  ctx().Stop();
}

void GrpcChatSession::Handle(GrpcCallCancelled) {
  OnGone();
  ctx().Stop();
}

void GrpcChatSession::TransportSend(const std::string& line) {
  if (stream_.Write(ToServerEvent(line)).ok()) {
    in_stream_.push_back(line.size());
    in_stream_bytes_ += line.size();
    ++sent_;
    return;
  }
  // The call is over: finished or cancelled (GrpcCallCancelled follows).
  OnGone();
  ctx().Stop();
}

size_t GrpcChatSession::TransportQueuedBytes() {
  for (uint64_t written = stream_.writes_done(); sent_ - in_stream_.size() < written;) {
    in_stream_bytes_ -= in_stream_.front();
    in_stream_.pop_front();
  }
  return in_stream_bytes_;
}

ChatGrpcServer::ChatGrpcServer(ActorSystem& system, LobbyRef lobby, SessionOptions options)
    : system_(system), lobby_(std::move(lobby)), options_(std::move(options)), gateway_(system) {}

ChatGrpcServer::~ChatGrpcServer() { Shutdown(); }

absl::StatusOr<int> ChatGrpcServer::Start(const GrpcServerOptions& options) {
  absl::Status added = gateway_.AddStream<ClientEvent, ServerEvent>(
      GrpcMethod<Chat>("Connect"), [this](ChatStream stream) {
        // A failed spawn (actor limit, shutdown) drops the stream: the call ends ABORTED.
        (void)system_.Spawn<GrpcChatSession>(std::move(stream), lobby_, options_);
      });
  if (!added.ok()) return added;
  return gateway_.Start(options);
}

void ChatGrpcServer::Shutdown() { gateway_.Shutdown(absl::Milliseconds(500)); }

}  // namespace troupe::chat
