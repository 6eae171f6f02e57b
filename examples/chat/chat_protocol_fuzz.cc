// Fuzz target: the chat command parser (a client's line) and the line builders. For any line:
// no crash; a parsed command's names are valid and its text fits a line; every reply line
// built from it is a single line. Built with libFuzzer by tools/fuzz; replayed on its seed
// corpus by //examples/chat:chat_protocol_fuzz_test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "examples/chat/chat_protocol.h"

#define FUZZ_CHECK(condition) \
  if (!(condition)) __builtin_trap()

namespace {

bool NoNewline(const std::string& s) { return s.find('\n') == std::string::npos; }
// A reply line: exactly one newline, at its end.
bool OneLine(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using troupe::chat::Command;
  const absl::string_view line(reinterpret_cast<const char*>(data), size);
  if (line.find('\n') != absl::string_view::npos) return 0;  // the framer never passes one
  absl::StatusOr<Command> command = troupe::chat::ParseLine(line);
  if (!command.ok()) {
    FUZZ_CHECK(command.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(OneLine(troupe::chat::ErrorLine(command.status().message())));
    return 0;
  }
  switch (command->kind) {
    case Command::Kind::kNick:
    case Command::Kind::kJoin:
    case Command::Kind::kMsg:
      FUZZ_CHECK(troupe::chat::IsValidName(command->target));
      break;
    default:
      break;
  }
  FUZZ_CHECK(command->text.size() <= troupe::chat::kMaxLineBytes);
  FUZZ_CHECK(NoNewline(command->text) && NoNewline(command->target));
  FUZZ_CHECK(OneLine(troupe::chat::RoomLine("room", "nick", command->text)));
  FUZZ_CHECK(OneLine(troupe::chat::PrivateLine("nick", command->text)));
  return 0;
}
