// OutputPacer against an in-memory transport (a queue the test drains as a client would read):
// lines wait in order beyond the transport's room, a room line's credit stays out until the
// member passed it on, a member that stops reading stops pacing and is then cut off, and the
// hard limit cuts at once. The real transports are covered by chat_server_test.
#include "examples/chat/output_pacer.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "framework/base/credit.h"
#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"

namespace troupe::chat {
namespace {

using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;

// A transport with room for `capacity` bytes; the client "reads" with Take().
class FakeTransport final : public OutputPacer::Transport {
 public:
  explicit FakeTransport(size_t capacity) : capacity_(capacity) {}
  bool HasRoom() override { return queued_ < capacity_; }
  void Send(const std::string& line) override {
    lines_.push_back(line);
    queued_ += line.size();
  }
  uint64_t Taken() override { return taken_; }
  size_t QueuedBytes() override { return queued_; }
  // The client reads one line.
  std::string Take() {
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    queued_ -= line.size();
    taken_ += line.size();
    return line;
  }
  size_t lines() const { return lines_.size(); }

 private:
  const size_t capacity_;
  std::deque<std::string> lines_;
  size_t queued_ = 0;
  uint64_t taken_ = 0;
};

// Counts credit given back.
struct Sink final : CreditSink {
  void ReturnCredit(size_t amount) override { returned += amount; }
  size_t returned = 0;
};

// A room line sharing ownership of its sender's credit, as Room makes it.
Line RoomLine(std::string text, const std::shared_ptr<Sink>& sink) {
  const size_t n = text.size();
  auto paced = std::make_shared<std::pair<const std::string, Credit>>(std::move(text),
                                                                        Credit(sink, n));
  return Line(paced, &paced->first);
}

const absl::Time kStart = absl::UnixEpoch();

TEST(OutputPacerTest, LinesBeyondTheTransportsRoomWaitInOrder) {
  FakeTransport transport(10);
  OutputPacer pacer(&transport, {});
  for (int i = 0; i < 5; ++i) ASSERT_THAT(pacer.Add(MakeLine("line" + std::to_string(i) + "\n"), kStart), IsOk());
  EXPECT_EQ(transport.lines(), 2u);  // 6 + 6 bytes: full after two
  EXPECT_EQ(pacer.held_bytes(), 18u);
  std::string read;
  while (transport.lines() > 0 || pacer.held_bytes() > 0) {
    if (transport.lines() > 0) read += transport.Take();
    pacer.Drain();
  }
  EXPECT_EQ(read, "line0\nline1\nline2\nline3\nline4\n");
}

TEST(OutputPacerTest, ASendersCreditReturnsOnlyWhenTheMemberPassedItsLineOn) {
  FakeTransport transport(4);
  OutputPacer pacer(&transport, {});
  auto sink = std::make_shared<Sink>();
  ASSERT_THAT(pacer.Add(MakeLine("fill\n"), kStart), IsOk());  // the transport is full now
  ASSERT_THAT(pacer.Add(RoomLine("hello\n", sink), kStart), IsOk());
  EXPECT_EQ(sink->returned, 0u);  // held here: the sender stays paced
  transport.Take();
  pacer.Drain();
  EXPECT_EQ(sink->returned, 6u);
}

TEST(OutputPacerTest, AMemberThatTakesNothingStopsPacingThenIsCutOff) {
  FakeTransport transport(4);
  OutputPacer pacer(&transport, {.stall_timeout = absl::Seconds(30),
                                 .pace_timeout = absl::Seconds(2)});
  auto sink = std::make_shared<Sink>();
  ASSERT_THAT(pacer.Add(MakeLine("fill\n"), kStart), IsOk());
  ASSERT_THAT(pacer.Add(RoomLine("one\n", sink), kStart), IsOk());
  ASSERT_THAT(pacer.Check(kStart + absl::Seconds(1)), IsOk());
  EXPECT_TRUE(pacer.pacing());
  EXPECT_EQ(sink->returned, 0u);
  ASSERT_THAT(pacer.Check(kStart + absl::Seconds(2)), IsOk());
  EXPECT_FALSE(pacer.pacing());
  EXPECT_EQ(sink->returned, 4u);  // let go: the room's senders go on without this member
  ASSERT_THAT(pacer.Add(RoomLine("two\n", sink), kStart + absl::Seconds(3)), IsOk());
  EXPECT_EQ(sink->returned, 8u);  // not held while it does not read
  EXPECT_THAT(pacer.Check(kStart + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(OutputPacerTest, ASlowReaderIsNeverCutOffAndKeepsPacing) {
  FakeTransport transport(4);
  OutputPacer pacer(&transport, {.stall_timeout = absl::Seconds(30),
                                 .pace_timeout = absl::Seconds(2)});
  auto sink = std::make_shared<Sink>();
  absl::Time now = kStart;
  for (int i = 0; i < 100; ++i) {  // two lines a second arrive, the client reads one
    ASSERT_THAT(pacer.Add(RoomLine("line\n", sink), now), IsOk());
    ASSERT_THAT(pacer.Add(RoomLine("line\n", sink), now), IsOk());
    now += absl::Seconds(1);
    transport.Take();
    ASSERT_THAT(pacer.Check(now), IsOk()) << i;
    EXPECT_TRUE(pacer.pacing()) << i;
  }
  // Only what it read, plus the line in its transport: the senders are held back.
  EXPECT_EQ(sink->returned, 101u * 5);
}

TEST(OutputPacerTest, ResumingReadingPacesAgain) {
  FakeTransport transport(4);
  OutputPacer pacer(&transport, {.pace_timeout = absl::Seconds(2)});
  auto sink = std::make_shared<Sink>();
  ASSERT_THAT(pacer.Add(MakeLine("fill\n"), kStart), IsOk());
  ASSERT_THAT(pacer.Check(kStart + absl::Seconds(2)), IsOk());
  EXPECT_FALSE(pacer.pacing());
  transport.Take();
  ASSERT_THAT(pacer.Check(kStart + absl::Seconds(3)), IsOk());
  EXPECT_TRUE(pacer.pacing());
  ASSERT_THAT(pacer.Add(MakeLine("fill\n"), kStart + absl::Seconds(3)), IsOk());
  ASSERT_THAT(pacer.Add(RoomLine("held\n", sink), kStart + absl::Seconds(3)), IsOk());
  EXPECT_EQ(sink->returned, 0u);
}

TEST(OutputPacerTest, TheHardLimitCutsAtOnce) {
  FakeTransport transport(4);
  OutputPacer pacer(&transport, {.hard_bytes = 20});
  ASSERT_THAT(pacer.Add(MakeLine("fill\n"), kStart), IsOk());
  ASSERT_THAT(pacer.Add(MakeLine("0123456789\n"), kStart), IsOk());
  EXPECT_THAT(pacer.Add(MakeLine("0123456789\n"), kStart),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace troupe::chat
