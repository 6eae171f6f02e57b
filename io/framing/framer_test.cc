#include "io/framing/framer.h"

#include <string>
#include <vector>

#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe {
namespace {

using ::troupe::testing::StatusIs;
using Kind = FramingOptions::Kind;

struct Collector : FrameSink {
  void OnFrame(std::string_view f) override { frames.emplace_back(f); }
  void OnFrameError(absl::Status e) override { errors.push_back(std::move(e)); }
  std::vector<std::string> frames;
  std::vector<absl::Status> errors;
};

std::unique_ptr<Framer> Make(Kind kind, size_t max) { return MakeFramer({kind, max}); }

// Feeds `input` split at `cut` (and, when cut == 0, one byte at a time).
Collector FeedSplit(Kind kind, size_t max, const std::string& input, size_t cut) {
  auto framer = Make(kind, max);
  Collector c;
  if (cut == 0) {
    for (char ch : input) framer->Feed(std::string_view(&ch, 1), c);
  } else {
    framer->Feed(std::string_view(input).substr(0, cut), c);
    framer->Feed(std::string_view(input).substr(cut), c);
  }
  return c;
}

TEST(LineFramerTest, EveryChunkingGivesTheSameLines) {
  const std::string input = "alpha\r\n\nbeta gamma\ndelta\n";
  const std::vector<std::string> want = {"alpha", "", "beta gamma", "delta"};
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    Collector c = FeedSplit(Kind::kLine, 64, input, cut);
    EXPECT_EQ(c.frames, want) << "cut at " << cut;
    EXPECT_TRUE(c.errors.empty());
  }
}

TEST(LineFramerTest, OversizedLineIsRejectedThenTheStreamContinues) {
  auto framer = Make(Kind::kLine, 8);
  Collector c;
  framer->Feed("ok\n0123456789abcdef", c);
  EXPECT_EQ(c.errors.size(), 1u);
  EXPECT_THAT(c.errors[0], StatusIs(absl::StatusCode::kInvalidArgument));
  framer->Feed("more of the bad line\nnext\n", c);
  EXPECT_EQ(c.frames, (std::vector<std::string>{"ok", "next"}));
  EXPECT_EQ(c.errors.size(), 1u);
  // Exactly the limit is fine; one more byte is not.
  framer->Feed("12345678\n123456789\n", c);
  EXPECT_EQ(c.frames.back(), "12345678");
  EXPECT_EQ(c.errors.size(), 2u);
}

TEST(LineFramerTest, AHugeLineNeverBuffersMoreThanTheLimit) {
  auto framer = Make(Kind::kLine, 1024);
  Collector c;
  const std::string chunk(4096, 'x');
  size_t most = 0;
  for (int i = 0; i < 2560; ++i) {  // 10 MiB without a newline
    framer->Feed(chunk, c);
    most = std::max(most, framer->buffered());
  }
  EXPECT_LE(most, 1025u);
  framer->Feed("\nafter\n", c);
  EXPECT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.frames, std::vector<std::string>{"after"});
}

TEST(LineFramerTest, EncodeAppendsANewlineAndChecksTheLimit) {
  auto framer = Make(Kind::kLine, 4);
  std::string out;
  EXPECT_TRUE(framer->Encode("abcd", out).ok());
  EXPECT_EQ(out, "abcd\n");
  EXPECT_THAT(framer->Encode("abcde", out), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(framer->Encode("a\nb", out), StatusIs(absl::StatusCode::kInvalidArgument));
}

std::string Frame(const std::string& payload) {
  std::string out;
  EXPECT_TRUE(Make(Kind::kLengthPrefixed, 1 << 20)->Encode(payload, out).ok());
  return out;
}

std::string Header(uint32_t n) {
  return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
}

TEST(LengthPrefixedFramerTest, EveryChunkingGivesTheSameFrames) {
  const std::string input = Frame("hello") + Frame("") + Frame(std::string(300, 'z')) + Frame("x");
  const std::vector<std::string> want = {"hello", "", std::string(300, 'z'), "x"};
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    Collector c = FeedSplit(Kind::kLengthPrefixed, 300, input, cut);
    EXPECT_EQ(c.frames, want) << "cut at " << cut;
    EXPECT_TRUE(c.errors.empty());
  }
}

TEST(LengthPrefixedFramerTest, OversizedLengthsFailBeforeAllocating) {
  for (uint32_t bad : {301u, 1u << 31, 0xFFFFFFFFu}) {
    auto framer = Make(Kind::kLengthPrefixed, 300);
    Collector c;
    EXPECT_FALSE(framer->Feed(Header(bad) + "payload", c));
    ASSERT_EQ(c.errors.size(), 1u) << bad;
    EXPECT_THAT(c.errors[0], StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_LE(framer->buffered(), 4u);
    // Failed for good: valid frames after it are ignored.
    EXPECT_FALSE(framer->Feed(Frame("ok"), c));
    EXPECT_TRUE(c.frames.empty());
  }
  auto framer = Make(Kind::kLengthPrefixed, 300);
  Collector c;
  EXPECT_TRUE(framer->Feed(Header(300) + std::string(300, 'a'), c));
  EXPECT_EQ(c.frames.size(), 1u);
}

TEST(LengthPrefixedFramerTest, TruncatedInputIsBufferedNotDelivered) {
  auto framer = Make(Kind::kLengthPrefixed, 100);
  Collector c;
  framer->Feed(Header(10).substr(0, 3), c);
  EXPECT_EQ(framer->buffered(), 3u);
  framer->Feed(Header(10).substr(3) + "12345", c);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(framer->buffered(), 9u);
  framer->Feed("67890", c);
  EXPECT_EQ(c.frames, std::vector<std::string>{"1234567890"});
  EXPECT_EQ(framer->buffered(), 0u);
}

TEST(LengthPrefixedFramerTest, EncodeChecksTheLimit) {
  auto framer = Make(Kind::kLengthPrefixed, 3);
  std::string out;
  EXPECT_TRUE(framer->Encode("abc", out).ok());
  EXPECT_EQ(out, Header(3) + "abc");
  EXPECT_THAT(framer->Encode("abcd", out), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RawFramerTest, PassesChunksThrough) {
  auto framer = Make(Kind::kRaw, 1);
  Collector c;
  framer->Feed("any bytes at all\n", c);
  framer->Feed("", c);
  EXPECT_EQ(c.frames, std::vector<std::string>{"any bytes at all\n"});
  EXPECT_EQ(framer->buffered(), 0u);
}

}  // namespace
}  // namespace troupe
