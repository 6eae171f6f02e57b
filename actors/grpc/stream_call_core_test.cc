// StreamCallCore's write side without a gRPC server: a recording reactor stands in for gRPC, so
// the tests see which operations the pump starts, in what order and with which write options,
// and complete them by hand.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/grpc/stream_call.h"
#include "gtest/gtest.h"
#include "proto/echo.pb.h"

namespace troupe::internal {
namespace {

using troupe::examples::EchoReply;
using troupe::examples::EchoRequest;
using Core = StreamCallCore<EchoRequest, EchoReply>;

EchoReply Reply(size_t bytes) {
  EchoReply reply;
  reply.set_text(std::string(bytes, 'x'));
  return reply;
}

// Records the writes the pump starts; `on_read` runs inside StartRead (as a gRPC reaction that
// runs inline would), while the pump is busy.
class RecordingReactor final : public StreamOperations<EchoRequest, EchoReply> {
 public:
  struct Write {
    size_t bytes;
    bool hinted;
  };
  void StartRead(EchoRequest*) override {
    if (on_read) std::exchange(on_read, nullptr)();
  }
  void StartWrite(const EchoReply* reply, grpc::WriteOptions options) override {
    writes.push_back({reply->text().size(), options.get_buffer_hint()});
  }
  void Finish(grpc::Status) override { finished = true; }

  std::function<void()> on_read;
  std::vector<Write> writes;
  bool finished = false;
};

class StreamCallCoreTest : public ::testing::Test {
 protected:
  void StartCore() {
    Core::Sink sink;
    sink.received = [](GrpcReceived<EchoRequest>) {};
    sink.reads_done = [](GrpcReadsDone) {};
    ASSERT_TRUE(core_->Start(std::move(sink)).ok());
  }
  // gRPC reports the write in flight done.
  void CompleteWrite() { core_->OnWriteDone(true); }

  RecordingReactor reactor_;
  std::shared_ptr<Core> core_ = std::make_shared<Core>(&reactor_, nullptr, GrpcStreamOptions{});
};

// The first write carries the call's initial metadata, which gRPC sends only with a flush: a
// hinted first write would complete never (seen as a client waiting forever for its replies).
TEST_F(StreamCallCoreTest, TheFirstWriteIsNeverHintedEvenWithRepliesQueuedBehindIt) {
  reactor_.on_read = [&] {
    ASSERT_TRUE(core_->Write(Reply(10)).ok());
    ASSERT_TRUE(core_->Write(Reply(11)).ok());
    ASSERT_TRUE(core_->Write(Reply(12)).ok());
  };
  StartCore();  // the pump starts a read, which queues three replies, then writes the first
  ASSERT_EQ(reactor_.writes.size(), 1u);
  EXPECT_EQ(reactor_.writes[0].bytes, 10u);
  EXPECT_FALSE(reactor_.writes[0].hinted);
}

// After the first, a reply with another queued behind it goes with the hint (they leave together
// at the next unhinted write); the last one queued goes without, so nothing is held back.
TEST_F(StreamCallCoreTest, ARepliesBurstIsHintedUpToItsLastReply) {
  ASSERT_TRUE(core_->Write(Reply(10)).ok());
  for (size_t i = 1; i <= 3; ++i) ASSERT_TRUE(core_->Write(Reply(10 + i)).ok());
  for (int i = 0; i < 3; ++i) CompleteWrite();
  ASSERT_EQ(reactor_.writes.size(), 4u);
  EXPECT_FALSE(reactor_.writes[0].hinted);
  EXPECT_TRUE(reactor_.writes[1].hinted);
  EXPECT_TRUE(reactor_.writes[2].hinted);
  EXPECT_FALSE(reactor_.writes[3].hinted);  // nothing behind it
  CompleteWrite();
  // A reply written alone is never hinted.
  ASSERT_TRUE(core_->Write(Reply(20)).ok());
  ASSERT_EQ(reactor_.writes.size(), 5u);
  EXPECT_FALSE(reactor_.writes[4].hinted);
}

// Hinted bytes are bounded (well under gRPC's write buffer, so a hinted write completes at once
// and never waits on flow control): past the bound a write goes unhinted, and its completion
// (everything before it sent) starts the count again.
TEST_F(StreamCallCoreTest, HintedBytesAreBoundedAndCountedAgainAfterAnUnhintedWrite) {
  ASSERT_TRUE(core_->Write(Reply(1)).ok());
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(core_->Write(Reply(4096)).ok());
  for (int i = 0; i < 12; ++i) CompleteWrite();
  ASSERT_EQ(reactor_.writes.size(), 13u);
  std::string pattern;
  for (const auto& w : reactor_.writes) pattern += w.hinted ? 'h' : '-';
  // 16 KiB holds three 4 KiB replies with their headers, not four.
  EXPECT_EQ(pattern, "-hhh-hhh-hhh-");
}

// Replies dropped behind a hinted write leave it with no write to flush it: the finish that
// follows does (the trailing metadata always goes out).
TEST_F(StreamCallCoreTest, AFinishFollowsAHintedWriteWhoseFollowersWereDropped) {
  GrpcStreamOptions options{.max_queued_writes = 3};
  core_ = std::make_shared<Core>(&reactor_, nullptr, options);
  ASSERT_TRUE(core_->Write(Reply(1)).ok());
  ASSERT_TRUE(core_->Write(Reply(2)).ok());
  ASSERT_TRUE(core_->Write(Reply(3)).ok());
  CompleteWrite();  // reply 2 goes hinted (3 waits behind it)
  ASSERT_EQ(reactor_.writes.size(), 2u);
  EXPECT_TRUE(reactor_.writes[1].hinted);
  ASSERT_TRUE(core_->Write(Reply(4)).ok());
  EXPECT_EQ(core_->Write(Reply(5)).code(), absl::StatusCode::kResourceExhausted);  // drops 3, 4
  EXPECT_FALSE(reactor_.finished);  // the hinted write is still in flight
  CompleteWrite();
  EXPECT_EQ(reactor_.writes.size(), 2u);
  EXPECT_TRUE(reactor_.finished);
}

}  // namespace
}  // namespace troupe::internal
