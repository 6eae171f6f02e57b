// The chat line protocol (examples/chat/README.md): parsing client lines and formatting server
// lines. Pure functions, no I/O.
//
// Thread safety: free functions.
#ifndef EXAMPLES_CHAT_CHAT_PROTOCOL_H_
#define EXAMPLES_CHAT_CHAT_PROTOCOL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace troupe::chat {

inline constexpr size_t kMaxLineBytes = 4096;  // without the newline

// NICK and ROOM: 1-32 characters of A-Z a-z 0-9 _ -.
bool IsValidName(absl::string_view name);

struct Command {
  enum class Kind { kNick, kJoin, kLeave, kSay, kMsg, kRooms, kWho, kQuit, kText };
  Kind kind;
  std::string target;  // NAME, ROOM or NICK
  std::string text;    // for kSay, kMsg, kText
};

// One client line (its newline already removed; a trailing '\r' is dropped here).
// INVALID_ARGUMENT with the reason to send back as "! reason".
absl::StatusOr<Command> ParseLine(absl::string_view line);

// Server lines, each ending with '\n'.
std::string InfoLine(absl::string_view text);     // "* text"
std::string ErrorLine(absl::string_view reason);  // "! reason"
std::string RoomLine(absl::string_view room, absl::string_view nick, absl::string_view text);
std::string PrivateLine(absl::string_view from, absl::string_view text);       // "[pm] FROM: text"
std::string HistoryLine(absl::string_view room_line);                          // "# " + a RoomLine
std::string ListLine(absl::string_view head, std::vector<std::string> names);  // sorted

}  // namespace troupe::chat

#endif  // EXAMPLES_CHAT_CHAT_PROTOCOL_H_
