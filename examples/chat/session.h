// ChatSession<Derived, P>: one client of the chat server, whatever carries its lines. It runs
// the line protocol (chat_protocol.h) against the lobby and the rooms, one command at a time:
// lines that arrive while a command waits for the lobby are held (with their flow-control
// credit) and run in order afterwards. Everything for the client - replies, room lines, private
// messages - goes through an OutputPacer (output_pacer.h): room senders are paced to this
// client's reading, and a client that stops reading is cut off (logged, counted). The transport
// actor (TcpChatSession, GrpcChatSession) derives from it, feeds it lines (OnLine), tells it
// when the client is gone (OnGone) and when its transport has room again (OnWritable), and
// provides TransportHasRoom(), TransportSend(const std::string&), TransportTaken(),
// TransportQueuedBytes(), CloseClient() and CutOffClient(const absl::Status&).
//
// Thread safety: an actor (all of this runs on its turns).
#ifndef EXAMPLES_CHAT_SESSION_H_
#define EXAMPLES_CHAT_SESSION_H_

#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/chat/chat_messages.h"
#include "examples/chat/chat_protocol.h"
#include "framework/base/credit.h"
#include "framework/log/log.h"

namespace troupe::chat {

inline constexpr absl::Duration kLobbyTimeout = absl::Seconds(10);

// What every session of a server shares.
struct SessionOptions {
  OutputLimits output;
  // Members cut off for not reading (may be null).
  std::shared_ptr<std::atomic<uint64_t>> cut_off = std::make_shared<std::atomic<uint64_t>>(0);
};

template <typename Derived, typename P>
class ChatSession : public Actor<Derived, P>, private OutputPacer::Transport {
 public:
  ChatSession(LobbyRef lobby, SessionOptions options)
      : lobby_(std::move(lobby)), options_(std::move(options)), output_(this, options_.output) {}

  // Room and lobby output for this client.
  void Handle(Output m) {
    Emit(std::move(m.line));
    if (m.close && !gone_) {
      OnGone();
      derived().CloseClient();
    }
  }

 protected:
  // The transport has room again: held output moves on.
  void OnWritable() { output_.Drain(); }
  // A line for the client from the transport itself (e.g. an error about what it sent).
  void Write(const std::string& line) { Emit(MakeLine(line)); }
  // One line from the client (its newline removed). `credit` is held until the line ran.
  void OnLine(std::string line, Credit credit = {}) {
    Enqueue(Held{std::move(line), std::move(credit), false});
  }
  // The transport dropped a line over the limit: answered in its turn, like a line.
  void OnTooLong() { Enqueue(Held{std::string(), Credit(), true}); }
  // The client is gone (or quit): leave every room, give the nick back.
  void OnGone() {
    for (auto& [name, room] : rooms_) room.Tell(LeaveRoom{this->ctx().id()});
    rooms_.clear();
    if (!nick_.empty()) lobby_.Tell(ReleaseNick{nick_, this->ctx().id()});
    nick_.clear();
    gone_ = true;
    held_.clear();
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  // Every line for the client passes here, in order.
  void Emit(Line line) {
    if (gone_) return;
    if (absl::Status s = output_.Add(std::move(line), this->ctx().Now()); !s.ok()) {
      CutOff(s);
      return;
    }
    ArmOutputCheck();
  }
  // While output waits, a check every second (or sooner for short limits) notices a client
  // that stopped reading.
  void ArmOutputCheck() {
    if (check_armed_ || gone_ || !output_.waiting()) return;
    check_armed_ = true;
    const absl::Duration period =
        std::min(absl::Seconds(1), std::min(options_.output.pace_timeout,
                                            options_.output.stall_timeout) / 2);
    this->ctx().RunAfter(period, [this] {
      check_armed_ = false;
      if (gone_) return;
      if (absl::Status s = output_.Check(this->ctx().Now()); !s.ok()) {
        CutOff(s);
        return;
      }
      ArmOutputCheck();
    });
  }
  void CutOff(const absl::Status& why) {
    static LogLimit limit(20);  // clients' doing
    LogLimited(limit, absl::LogSeverity::kWarning, "chat: cut off a member",
               {{"nick", nick_.empty() ? "(none yet)" : nick_}, {"session", this->ctx().id()},
                {"why", why.ToString()}});
    if (options_.cut_off) options_.cut_off->fetch_add(1, std::memory_order_relaxed);
    OnGone();
    derived().CutOffClient(why);
  }
  // OutputPacer::Transport, answered by the transport actor.
  bool HasRoom() override { return derived().TransportHasRoom(); }
  void Send(const std::string& line) override { derived().TransportSend(line); }
  uint64_t Taken() override { return derived().TransportTaken(); }
  size_t QueuedBytes() override { return derived().TransportQueuedBytes(); }

  Member Me() {
    return Member{this->ctx().id(), nick_,
                  [self = this->self()](Line line) { self.Tell(Output{std::move(line)}); },
                  [self = this->self()](Line line) { self.Tell(Output{std::move(line), true}); }};
  }
  RoomRef* Joined(const std::string& room) {
    for (auto& [name, ref] : rooms_) {
      if (name == room) return &ref;
    }
    return nullptr;
  }
  // Marks the session busy until `done` runs the continuation of an ask, then runs held lines.
  template <typename Q, typename M, typename F>
  void AskLobbyOrRoom(const ActorRef<Q>& to, M msg, F then) {
    busy_ = true;
    (void)this->ctx().Ask(to, std::move(msg), kLobbyTimeout,
                          [this, then = std::move(then)](auto r) mutable {
                            busy_ = false;
                            if (!gone_) then(std::move(r));
                            RunHeld();
                          });
  }
  // One client line, held with its flow-control credit until it ran.
  struct Held {
    std::string line;
    Credit credit;
    bool too_long;
  };
  void Enqueue(Held held) {
    if (busy_ || !held_.empty()) {
      held_.push_back(std::move(held));
      if (!busy_) RunHeld();
      return;
    }
    Run(held);
  }
  void RunHeld() {
    while (!busy_ && !held_.empty()) {
      Held next = std::move(held_.front());
      held_.pop_front();
      Run(next);
    }
  }

  void Run(Held& held) {
    if (gone_) return;
    if (held.too_long) {
      Write(ErrorLine("line too long (max 4096 bytes)"));
      return;
    }
    absl::StatusOr<Command> command = ParseLine(held.line);
    if (!command.ok()) {
      Write(ErrorLine(command.status().message()));
      return;
    }
    Command& c = *command;
    const bool needs_nick = c.kind == Command::Kind::kJoin || c.kind == Command::Kind::kLeave ||
                            c.kind == Command::Kind::kSay || c.kind == Command::Kind::kMsg ||
                            c.kind == Command::Kind::kText;
    if (needs_nick && nick_.empty()) {
      Write(ErrorLine("choose a nick first: /nick NAME"));
      return;
    }
    switch (c.kind) {
      case Command::Kind::kNick:
        if (!rooms_.empty() && c.target != nick_) {
          Write(ErrorLine("leave your rooms before changing your nick"));
          return;
        }
        AskLobbyOrRoom(lobby_, ClaimNick{c.target, nick_, Me()},
                       [this, name = c.target](absl::StatusOr<bool> ok) {
                         if (!ok.ok()) {
                           Write(ErrorLine(ok.status().message()));
                         } else if (!*ok) {
                           Write(ErrorLine(absl::StrCat("nick ", name, " is in use")));
                         } else {
                           nick_ = name;
                           Write(InfoLine(absl::StrCat("nick ", name)));
                         }
                       });
        return;
      case Command::Kind::kJoin:
        if (Joined(c.target) != nullptr) {
          Write(ErrorLine(absl::StrCat("already in ", c.target)));
          return;
        }
        AskLobbyOrRoom(lobby_, OpenRoom{c.target},
                       [this, name = c.target](absl::StatusOr<RoomRef> room) {
                         if (!room.ok()) {
                           Write(ErrorLine(room.status().message()));
                           return;
                         }
                         // The room answers with "* joined" and its history; its later
                         // messages come after that answer, so they keep their order.
                         rooms_.emplace_back(name, *room);
                         AskLobbyOrRoom(*room, JoinRoom{Me()},
                                        [this](absl::StatusOr<std::vector<Line>> welcome) {
                                          if (!welcome.ok()) {
                                            Write(ErrorLine(welcome.status().message()));
                                            return;
                                          }
                                          for (const Line& line : *welcome) Write(*line);
                                        });
                       });
        return;
      case Command::Kind::kLeave: {
        RoomRef* room = Joined(c.target);
        if (room == nullptr) {
          Write(ErrorLine(absl::StrCat("not in ", c.target)));
          return;
        }
        room->Tell(LeaveRoom{this->ctx().id()});
        std::erase_if(rooms_, [&](const auto& r) { return r.first == c.target; });
        Write(InfoLine(absl::StrCat("left ", c.target)));
        return;
      }
      case Command::Kind::kSay:
      case Command::Kind::kText: {
        RoomRef* room = nullptr;
        if (c.kind == Command::Kind::kText) {
          if (rooms_.empty()) {
            Write(ErrorLine("join a room first: /join ROOM"));
            return;
          }
          room = &rooms_.back().second;
        } else if ((room = Joined(c.target)) == nullptr) {
          Write(ErrorLine(absl::StrCat("not in ", c.target)));
          return;
        }
        room->Tell(SayInRoom{this->ctx().id(), std::move(c.text), std::move(held.credit)});
        return;
      }
      case Command::Kind::kMsg:
        AskLobbyOrRoom(lobby_, SendPrivate{c.target, std::move(c.text), Me()},
                       [this, to = c.target](absl::StatusOr<bool> sent) {
                         if (!sent.ok() || !*sent) Write(ErrorLine(absl::StrCat("no user ", to)));
                       });
        return;
      case Command::Kind::kRooms:
        AskLobbyOrRoom(lobby_, ListRooms{}, [this](absl::StatusOr<std::vector<std::string>> r) {
          if (r.ok()) Write(ListLine("rooms", *r));
        });
        return;
      case Command::Kind::kWho:
        AskLobbyOrRoom(lobby_, FindRoom{c.target},
                       [this, name = c.target](absl::StatusOr<std::optional<RoomRef>> room) {
                         if (!room.ok() || !room->has_value()) {
                           Write(ErrorLine(absl::StrCat("no room ", name)));
                           return;
                         }
                         AskLobbyOrRoom(**room, WhoInRoom{},
                                        [this, name](absl::StatusOr<std::vector<std::string>> r) {
                                          if (r.ok())
                                            Write(ListLine(absl::StrCat("who ", name), *r));
                                        });
                       });
        return;
      case Command::Kind::kQuit:
        Quit(0);
        return;
    }
  }

  // /quit: first a round trip to each joined room, so the client's own messages still in a
  // room come back to it before "* bye"; then leave everything and close.
  void Quit(size_t next_room) {
    if (next_room < rooms_.size()) {
      AskLobbyOrRoom(
          rooms_[next_room].second, WhoInRoom{},
          [this, next_room](absl::StatusOr<std::vector<std::string>>) { Quit(next_room + 1); });
      return;
    }
    Write(InfoLine("bye"));
    OnGone();
    derived().CloseClient();
  }

  LobbyRef lobby_;
  const SessionOptions options_;
  OutputPacer output_;
  bool check_armed_ = false;
  std::string nick_;
  std::vector<std::pair<std::string, RoomRef>> rooms_;  // in join order: the last is the default
  std::deque<Held> held_;
  bool busy_ = false;
  bool gone_ = false;
};

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_SESSION_H_
