#include "examples/chat/chat_protocol.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace troupe::chat {
namespace {

// Splits "word rest" at the first space.
std::pair<absl::string_view, absl::string_view> Split(absl::string_view s) {
  const size_t space = s.find(' ');
  if (space == absl::string_view::npos) return {s, {}};
  return {s.substr(0, space), s.substr(space + 1)};
}

absl::Status Bad(absl::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

}  // namespace

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

absl::StatusOr<Command> ParseLine(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return Bad("line too long (max 4096 bytes)");
  if (line.empty()) return Bad("empty line");
  if (line[0] != '/') return Command{Command::Kind::kText, "", std::string(line)};
  // Named variables, not a structured binding: lambdas capture them (clang 14 builds the fuzzer).
  const auto verb_rest = Split(line);
  const absl::string_view verb = verb_rest.first;
  const absl::string_view rest = verb_rest.second;
  auto name_arg = [&](Command::Kind kind,
                                   absl::string_view what) -> absl::StatusOr<Command> {
    if (!IsValidName(rest)) {
      return Bad(absl::StrCat("usage: ", verb, " ", what, " (1-32 of A-Z a-z 0-9 _ -)"));
    }
    return Command{kind, std::string(rest), ""};
  };
  auto name_text = [&](Command::Kind kind,
                                    absl::string_view what) -> absl::StatusOr<Command> {
    auto [name, text] = Split(rest);
    if (!IsValidName(name) || text.empty()) {
      return Bad(absl::StrCat("usage: ", verb, " ", what, " text"));
    }
    return Command{kind, std::string(name), std::string(text)};
  };
  if (verb == "/nick") return name_arg(Command::Kind::kNick, "NAME");
  if (verb == "/join") return name_arg(Command::Kind::kJoin, "ROOM");
  if (verb == "/leave") return name_arg(Command::Kind::kLeave, "ROOM");
  if (verb == "/who") return name_arg(Command::Kind::kWho, "ROOM");
  if (verb == "/say") return name_text(Command::Kind::kSay, "ROOM");
  if (verb == "/msg") return name_text(Command::Kind::kMsg, "NICK");
  if (verb == "/rooms" && rest.empty()) return Command{Command::Kind::kRooms, "", ""};
  if (verb == "/quit" && rest.empty()) return Command{Command::Kind::kQuit, "", ""};
  if (verb == "/rooms" || verb == "/quit") return Bad(absl::StrCat(verb, " takes no argument"));
  return Bad(absl::StrCat("unknown command ", verb.substr(0, 64)));
}

std::string InfoLine(absl::string_view text) { return absl::StrCat("* ", text, "\n"); }
std::string ErrorLine(absl::string_view reason) { return absl::StrCat("! ", reason, "\n"); }
std::string RoomLine(absl::string_view room, absl::string_view nick, absl::string_view text) {
  return absl::StrCat("[", room, "] ", nick, ": ", text, "\n");
}
std::string PrivateLine(absl::string_view from, absl::string_view text) {
  return absl::StrCat("[pm] ", from, ": ", text, "\n");
}
std::string HistoryLine(absl::string_view room_line) { return absl::StrCat("# ", room_line); }
std::string ListLine(absl::string_view head, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  if (names.empty()) return InfoLine(head);
  return InfoLine(absl::StrCat(head, " ", absl::StrJoin(names, " ")));
}

}  // namespace troupe::chat
