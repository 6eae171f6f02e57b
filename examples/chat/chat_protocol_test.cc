// The chat line protocol's parser and formatters.
#include "examples/chat/chat_protocol.h"

#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe::chat {
namespace {

using ::troupe::testing::StatusIs;

TEST(ChatProtocolTest, Names) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("Bob_the-2nd"));
  EXPECT_TRUE(IsValidName(std::string(32, 'x')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName(std::string(33, 'x')));
  EXPECT_FALSE(IsValidName("two words"));
  EXPECT_FALSE(IsValidName("caf\xc3\xa9"));  // letters beyond ASCII are not names
  EXPECT_FALSE(IsValidName("a/b"));
}

TEST(ChatProtocolTest, Commands) {
  auto c = ParseLine("/say lobby hello there\r");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, Command::Kind::kSay);
  EXPECT_EQ(c->target, "lobby");
  EXPECT_EQ(c->text, "hello there");
  c = ParseLine("just text");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, Command::Kind::kText);
  EXPECT_EQ(c->text, "just text");
  EXPECT_EQ(ParseLine("/msg bob hi")->kind, Command::Kind::kMsg);
  EXPECT_EQ(ParseLine("/nick bob")->target, "bob");
  EXPECT_EQ(ParseLine("/rooms")->kind, Command::Kind::kRooms);
  EXPECT_EQ(ParseLine("/quit")->kind, Command::Kind::kQuit);
  EXPECT_EQ(ParseLine("/who r")->kind, Command::Kind::kWho);
  EXPECT_EQ(ParseLine("/leave r")->kind, Command::Kind::kLeave);
}

TEST(ChatProtocolTest, Errors) {
  EXPECT_THAT(ParseLine("").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ParseLine("/fly").status().message(), "unknown command /fly");
  EXPECT_EQ(ParseLine("/say lobby").status().message(), "usage: /say ROOM text");
  EXPECT_EQ(ParseLine("/msg").status().message(), "usage: /msg NICK text");
  EXPECT_EQ(ParseLine("/join a b").status().message(),
            "usage: /join ROOM (1-32 of A-Z a-z 0-9 _ -)");
  EXPECT_EQ(ParseLine("/quit now").status().message(), "/quit takes no argument");
  EXPECT_EQ(ParseLine(std::string(4097, 'x')).status().message(), "line too long (max 4096 bytes)");
  EXPECT_TRUE(ParseLine(std::string(4096, 'x')).ok());
}

TEST(ChatProtocolTest, ServerLines) {
  EXPECT_EQ(InfoLine("nick bob"), "* nick bob\n");
  EXPECT_EQ(ErrorLine("no"), "! no\n");
  EXPECT_EQ(RoomLine("r", "bob", "hi"), "[r] bob: hi\n");
  EXPECT_EQ(PrivateLine("bob", "hi"), "[pm] bob: hi\n");
  EXPECT_EQ(HistoryLine(RoomLine("r", "bob", "hi")), "# [r] bob: hi\n");
  EXPECT_EQ(ListLine("who r", {"zed", "amy"}), "* who r amy zed\n");
  EXPECT_EQ(ListLine("rooms", {}), "* rooms\n");
}

}  // namespace
}  // namespace troupe::chat
