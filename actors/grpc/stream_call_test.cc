// gRPC streams served by actors: order both ways, flow control toward a slow actor and a
// client that does not read, client cancellation and deadlines reaching the actor, an actor that
// drops its stream; the server-streaming form (one request, many replies).
#include "actors/grpc/stream_call.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/grpc/gateway.h"
#include "actors/grpc/testing/served.h"
#include "framework/base/mutex.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "gtest/gtest.h"
#include "grpcpp/generic/generic_stub.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;
using examples::RepeatRequest;
using Stream = GrpcStream<EchoRequest, EchoReply>;

// What the sessions observed, shared with the test thread.
struct Observed {
  std::atomic<int> received{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> deadline_exceeded{0};
  std::atomic<int> write_errors{0};
  std::atomic<int> writable{0};
};

enum class Behavior {
  kEcho,   // answers each request in order, finishes after the client half-closes
  kHold,   // keeps every request (and its credit) until told Release, then drops them
  kFlood,  // answers each request with 2000 replies of 4 KiB
  kDrop,   // drops the stream on the first request
  kPaced,  // answers with 2000 replies of 4 KiB, writing only while not backpressured
  kStuck,  // answers with 200 replies of 4 KiB, cancels the call when told Release
};

struct Release {};
using SessionProtocol =
    Protocol<GrpcReceived<EchoRequest>, GrpcReadsDone, GrpcCallCancelled, GrpcWritable, Release>;

class Session : public Actor<Session, SessionProtocol> {
 public:
  Session(Stream stream, Behavior behavior, Observed* observed)
      : stream_(std::move(stream)), behavior_(behavior), observed_(observed) {}
  void OnStart() override { EXPECT_TRUE(stream_.Start(self()).ok()); }

  void Handle(GrpcReceived<EchoRequest> m) {
    ++observed_->received;
    switch (behavior_) {
      case Behavior::kEcho: {
        EchoReply reply;
        reply.set_text(m.message.text());
        if (!stream_.Write(std::move(reply)).ok()) ++observed_->write_errors;
        break;
      }
      case Behavior::kHold:
        if (!released_) held_.push_back(std::move(m));
        break;
      case Behavior::kFlood:
        for (int i = 0; i < 2000; ++i) {
          EchoReply reply;
          reply.set_text(std::string(4096, 'x'));
          if (!stream_.Write(std::move(reply)).ok()) {
            ++observed_->write_errors;
            break;
          }
        }
        break;
      case Behavior::kDrop:
        stream_ = Stream();
        break;
      case Behavior::kPaced:
        WritePaced();
        break;
      case Behavior::kStuck:
        for (int i = 0; i < 200; ++i) {
          EchoReply reply;
          reply.set_text(std::string(4096, 's'));
          if (!stream_.Write(std::move(reply)).ok()) ++observed_->write_errors;
        }
        break;
    }
  }
  void Handle(GrpcWritable) {
    ++observed_->writable;
    if (behavior_ == Behavior::kPaced) WritePaced();
  }
  void Handle(Release) {
    released_ = true;
    held_.clear();
    if (behavior_ == Behavior::kStuck) stream_.Cancel();
  }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    ctx().Stop();
  }
  void Handle(GrpcCallCancelled m) {
    ++(m.status.code() == absl::StatusCode::kDeadlineExceeded ? observed_->deadline_exceeded
                                                              : observed_->cancelled);
    ctx().Stop();
  }

 private:
  // kPaced: writes until the stream is backpressured; GrpcWritable resumes it.
  void WritePaced() {
    while (paced_sent_ < 2000 && !stream_.backpressured()) {
      EchoReply reply;
      reply.set_text(std::string(4096, 'p'));
      if (!stream_.Write(std::move(reply)).ok()) {
        ++observed_->write_errors;
        return;
      }
      ++paced_sent_;
    }
    if (paced_sent_ == 2000) stream_.Finish();
  }

  Stream stream_;
  Behavior behavior_;
  Observed* observed_;
  std::vector<GrpcReceived<EchoRequest>> held_;
  bool released_ = false;
  int paced_sent_ = 0;
};

// Serves Repeat: `count` numbered replies, then finishes when told the request is all - unless
// the text is "hold": then the stream stays open, as a watch would.
using RepeaterProtocol = Protocol<GrpcReceived<RepeatRequest>, GrpcReadsDone, GrpcCallCancelled>;
class Repeater : public Actor<Repeater, RepeaterProtocol> {
 public:
  Repeater(GrpcStream<RepeatRequest, EchoReply> stream, Observed* observed)
      : stream_(std::move(stream)), observed_(observed) {}
  void OnStart() override { EXPECT_TRUE(stream_.Start(self()).ok()); }
  void Handle(GrpcReceived<RepeatRequest> m) {
    ++observed_->received;
    hold_ = m.message.text() == "hold";
    for (uint32_t i = 0; i < m.message.count(); ++i) {
      EchoReply reply;
      reply.set_text(m.message.text() + " " + std::to_string(i));
      if (!stream_.Write(std::move(reply)).ok()) {
        ++observed_->write_errors;
        return;
      }
    }
  }
  void Handle(GrpcReadsDone) {
    if (!hold_) stream_.Finish();
  }
  void Handle(GrpcCallCancelled m) {
    ++(m.status.code() == absl::StatusCode::kDeadlineExceeded ? observed_->deadline_exceeded
                                                              : observed_->cancelled);
    ctx().Stop();
  }

 private:
  GrpcStream<RepeatRequest, EchoReply> stream_;
  Observed* observed_;
  bool hold_ = false;
};

class ChatService final : public Echo::CallbackService {
 public:
  ChatService(ActorSystem& system, Behavior behavior, Observed* observed, GrpcStreamOptions options)
      : system_(system), behavior_(behavior), observed_(observed), options_(options) {}
  grpc::ServerBidiReactor<EchoRequest, EchoReply>* Chat(
      grpc::CallbackServerContext* context) override {
    return ServeStream<EchoRequest, EchoReply>(
        context, [this](Stream stream) { OpenChat(std::move(stream)); }, options_);
  }
  grpc::ServerWriteReactor<EchoReply>* Repeat(grpc::CallbackServerContext* context,
                                              const RepeatRequest* request) override {
    return ServeServerStream<RepeatRequest, EchoReply>(
        context, *request,
        [this](GrpcStream<RepeatRequest, EchoReply> stream) { OpenRepeat(std::move(stream)); },
        options_);
  }
  // What both ways of serving do with a new call's stream.
  void OpenChat(Stream stream) {
    auto session = system_.Spawn<Session>(std::move(stream), behavior_, observed_);
    EXPECT_TRUE(session.ok());
    MutexLock lock(&mu_);
    if (session.ok()) sessions_.push_back(*session);
  }
  void OpenRepeat(GrpcStream<RepeatRequest, EchoReply> stream) {
    EXPECT_TRUE(system_.Spawn<Repeater>(std::move(stream), observed_).ok());
  }
  const GrpcStreamOptions& options() const { return options_; }
  std::vector<ActorRef<SessionProtocol>> sessions() {
    MutexLock lock(&mu_);
    return sessions_;
  }

 private:
  ActorSystem& system_;
  Behavior behavior_;
  Observed* observed_;
  GrpcStreamOptions options_;
  Mutex mu_;
  std::vector<ActorRef<SessionProtocol>> sessions_;
};

using ::troupe::testing::WaitFor;

// The same streams served three ways: a typed callback service (ServeStream and
// ServeServerStream on gRPC's threads), and the gateway's typed streams by name (AddStream<Req,
// Resp>) on gRPC's threads and on the workers' completion queues.
using ::troupe::testing::Served;

class StreamCallTest : public ::testing::TestWithParam<Served> {
 protected:
  void Serve(Behavior behavior, GrpcStreamOptions options = {}) {
    service_ = std::make_unique<ChatService>(system_, behavior, &observed_, options);
    int port = 0;
    if (GetParam() == Served::kCallbackService) {
      server_ = ::troupe::testing::StartPlainServer(service_.get(), &port);
      ASSERT_NE(server_, nullptr);
    } else {
      gateway_ = std::make_unique<GrpcGateway>(system_);
      ChatService* service = service_.get();
      const std::string name = absl::StrCat("/", Echo::service_full_name());
      ASSERT_TRUE((gateway_->AddStream<EchoRequest, EchoReply>(
                       name + "/Chat", [service](Stream s) { service->OpenChat(std::move(s)); },
                       options))
                      .ok());
      ASSERT_TRUE((gateway_->AddStream<RepeatRequest, EchoReply>(
                       name + "/Repeat",
                       [service](GrpcStream<RepeatRequest, EchoReply> s) {
                         service->OpenRepeat(std::move(s));
                       },
                       options))
                      .ok());
      auto started = gateway_->Start(::troupe::testing::GatewayOptions(GetParam()));
      ASSERT_TRUE(started.ok()) << started.status();
      port = *started;
    }
    port_ = port;
    stub_ = Echo::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                              grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    if (gateway_) gateway_->Shutdown();
  }
  static EchoRequest Request(const std::string& text) {
    EchoRequest r;
    r.set_text(text);
    return r;
  }

  Observed observed_;
  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  std::unique_ptr<ChatService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcGateway> gateway_;
  int port_ = 0;
  std::unique_ptr<Echo::Stub> stub_;
};

TEST_P(StreamCallTest, TenThousandMessagesComeBackInOrder) {
  Serve(Behavior::kEcho);
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  constexpr int kMessages = 10000;
  // A writer thread and this reader run at once: the stream is full duplex.
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      if (!stream->Write(Request("m" + std::to_string(i)))) break;
    }
    stream->WritesDone();
  });
  EchoReply reply;
  int in_order = 0;
  while (stream->Read(&reply)) {
    if (reply.text() == "m" + std::to_string(in_order)) ++in_order;
  }
  writer.join();
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(in_order, kMessages);
  EXPECT_EQ(observed_.received.load(), kMessages);
  EXPECT_EQ(observed_.write_errors.load(), 0);
}

TEST_P(StreamCallTest, ASlowActorStopsTheStreamReadingInsteadOfGrowingItsMailbox) {
  Serve(Behavior::kHold, GrpcStreamOptions{.max_unprocessed = 8});
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i) {
      if (!stream->Write(Request("m" + std::to_string(i)))) break;
      ++written;
    }
    stream->WritesDone();
  });
  ASSERT_TRUE(WaitFor([&] { return observed_.received.load() == 8; }));
  // Real time: reads past the credits would happen on gRPC's threads meanwhile.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(observed_.received.load(), 8);  // the held requests' credits stop further reads
  for (auto& session : service_->sessions()) session.Tell(Release{});
  EXPECT_TRUE(WaitFor([&] { return observed_.received.load() == 100; }));
  writer.join();
  EXPECT_EQ(written.load(), 100);
  EchoReply reply;
  EXPECT_FALSE(stream->Read(&reply));  // the session finished without replies
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(StreamCallTest, AClientThatDoesNotReadEndsWithResourceExhaustedNotUnboundedMemory) {
  Serve(Behavior::kFlood, GrpcStreamOptions{.max_queued_writes = 64});
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("flood me")));
  // The client reads nothing: HTTP/2's window fills, replies queue up to 64, then the call ends.
  ASSERT_TRUE(WaitFor([&] { return observed_.write_errors.load() == 1; }));
  EchoReply reply;
  while (stream->Read(&reply)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

// An actor that writes only while the stream is not backpressured is told GrpcWritable when
// the client catches up, and so sends everything to a slow reader without ever passing
// high_water_writes - instead of hitting max_queued_writes as a blind writer does.
TEST_P(StreamCallTest, GrpcWritableLetsAnActorPaceItselfToASlowReader) {
  Serve(Behavior::kPaced, GrpcStreamOptions{.high_water_writes = 16, .max_queued_writes = 64});
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("go")));
  EchoReply reply;
  int got = 0;
  while (stream->Read(&reply)) {
    ++got;
    if (got % 100 == 0) absl::SleepFor(absl::Milliseconds(5));  // a slow reader
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(got, 2000);
  EXPECT_GT(observed_.writable.load(), 0);
  EXPECT_EQ(observed_.write_errors.load(), 0);
}

// Cancel ends a call whose replies would never be written (the client reads nothing), at once:
// the client sees CANCELLED and the actor GrpcCallCancelled.
TEST_P(StreamCallTest, CancelEndsACallStuckOnAClientThatDoesNotRead) {
  Serve(Behavior::kStuck);
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("stuck")));
  ASSERT_TRUE(WaitFor([&] { return observed_.received.load() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));  // HTTP/2's window is full: a write is stuck
  for (auto& session : service_->sessions()) session.Tell(Release{});
  ASSERT_TRUE(WaitFor([&] { return observed_.cancelled.load() == 1; }));
  EchoReply reply;
  while (stream->Read(&reply)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_P(StreamCallTest, AClientCancellationReachesTheActor) {
  Serve(Behavior::kEcho);
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("hello")));
  EchoReply reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_EQ(reply.text(), "hello");
  context.TryCancel();
  EXPECT_TRUE(WaitFor([&] { return observed_.cancelled.load() == 1; }));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(observed_.deadline_exceeded.load(), 0);
}

TEST_P(StreamCallTest, TheDeadlineReachesTheActor) {
  Serve(Behavior::kEcho);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("hello")));
  EchoReply reply;
  ASSERT_TRUE(stream->Read(&reply));
  // The client neither writes nor half-closes: the deadline ends the call.
  EXPECT_FALSE(stream->Read(&reply));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The actor hears of it. (Its code is DEADLINE_EXCEEDED when the server saw the deadline
  // pass; a slow server may see the client's cancellation first, which says CANCELLED.)
  EXPECT_TRUE(WaitFor(
      [&] { return observed_.deadline_exceeded.load() + observed_.cancelled.load() == 1; }));
}

TEST_P(StreamCallTest, AnActorThatDropsItsStreamEndsTheCallWithAborted) {
  Serve(Behavior::kDrop);
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  ASSERT_TRUE(stream->Write(Request("hello")));
  EchoReply reply;
  EXPECT_FALSE(stream->Read(&reply));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
}

TEST_P(StreamCallTest, ManyConcurrentStreamsEachKeepTheirOrder) {
  Serve(Behavior::kEcho);
  constexpr int kStreams = 50, kMessages = 200;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kStreams; ++c) {
    clients.emplace_back([&, c] {
      grpc::ClientContext context;
      auto stream = stub_->Chat(&context);
      int in_order = 0;
      EchoReply reply;
      for (int i = 0; i < kMessages; ++i) {
        const std::string text = std::to_string(c) + "/" + std::to_string(i);
        if (!stream->Write(Request(text)) || !stream->Read(&reply)) break;
        in_order += reply.text() == text;
      }
      stream->WritesDone();
      if (stream->Finish().ok() && in_order == kMessages) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kStreams);
}

TEST_P(StreamCallTest, AServerStreamDeliversItsRequestOnceAndItsRepliesInOrder) {
  Serve(Behavior::kEcho);
  grpc::ClientContext context;
  RepeatRequest request;
  request.set_text("tick");
  request.set_count(4000);  // written at once: below max_queued_writes (4096)
  auto reader = stub_->Repeat(&context, request);
  EchoReply reply;
  int in_order = 0;
  while (reader->Read(&reply)) {
    if (reply.text() == "tick " + std::to_string(in_order)) ++in_order;
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(in_order, 4000);
  EXPECT_EQ(observed_.received.load(), 1);
  EXPECT_EQ(observed_.write_errors.load(), 0);
}

TEST_P(StreamCallTest, AServerStreamToAClientThatDoesNotReadEndsWithResourceExhausted) {
  Serve(Behavior::kEcho, GrpcStreamOptions{.max_queued_writes = 64});
  grpc::ClientContext context;
  RepeatRequest request;
  request.set_text(std::string(4096, 'x'));
  request.set_count(100000);
  auto reader = stub_->Repeat(&context, request);
  ASSERT_TRUE(WaitFor([&] { return observed_.write_errors.load() == 1; }));
  EchoReply reply;
  int read = 0;
  while (reader->Read(&reply)) ++read;
  EXPECT_LT(read, 100000);
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_P(StreamCallTest, AServerStreamClientCancellationReachesTheActor) {
  Serve(Behavior::kEcho);
  grpc::ClientContext context;
  RepeatRequest request;
  request.set_text("hold");
  request.set_count(1);
  auto reader = stub_->Repeat(&context, request);
  EchoReply reply;
  ASSERT_TRUE(reader->Read(&reply));
  EXPECT_EQ(reply.text(), "hold 0");
  context.TryCancel();
  EXPECT_TRUE(WaitFor([&] { return observed_.cancelled.load() == 1; }));
  EXPECT_FALSE(reader->Read(&reply));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_P(StreamCallTest, AMessageThatDoesNotParseEndsTheCallWithInvalidArgument) {
  if (GetParam() == Served::kCallbackService) GTEST_SKIP() << "gRPC's own parsing answers it";
  Serve(Behavior::kEcho);
  grpc::GenericStub generic(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                                grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::CompletionQueue cq;
  const auto step = [&cq](int expected_tag) {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(expected_tag)));
    return ok;
  };
  auto call = generic.PrepareCall(&context, "/troupe.examples.Echo/Chat", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  call->Write(ToByteBuffer(std::string("\xff\xff\xff", 3)), reinterpret_cast<void*>(2));
  EXPECT_TRUE(step(2));
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  EXPECT_FALSE(step(3));  // no reply: the call ends
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  EXPECT_TRUE(step(4));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("troupe.examples.EchoRequest"), std::string::npos);
  // The server carries on.
  grpc::ClientContext next;
  auto stream = stub_->Chat(&next);
  ASSERT_TRUE(stream->Write(Request("fine")));
  EchoReply echoed;
  ASSERT_TRUE(stream->Read(&echoed));
  EXPECT_EQ(echoed.text(), "fine");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

INSTANTIATE_TEST_SUITE_P(Served, StreamCallTest,
                         ::testing::ValuesIn(::troupe::testing::kEveryWayServed),
                         ::troupe::testing::ServedName);

}  // namespace
}  // namespace troupe
