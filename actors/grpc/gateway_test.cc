// The generic gateway: method name + bytes served by actors, reached by an ordinary typed
// client; unknown methods, actor errors, message size limits, a taken port.
#include "actors/grpc/gateway.h"

#include <future>
#include <memory>
#include <string>

#include "framework/base/status_matchers.h"
#include "grpcpp/generic/generic_stub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;
using ::troupe::testing::StatusIs;

// Decodes an EchoRequest from the bytes, answers an EchoReply with the text upper-cased.
using BytesProtocol = Protocol<Request<GrpcBytes, std::string>>;
class Shouter : public Actor<Shouter, BytesProtocol> {
 public:
  absl::StatusOr<std::string> Handle(GrpcBytes call) {
    EchoRequest request;
    if (!request.ParseFromString(call.payload)) {
      return absl::InvalidArgumentError("not an EchoRequest");
    }
    if (request.text() == "fail") return absl::PermissionDeniedError("refused by the actor");
    EchoReply reply;
    std::string text = request.text();
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    reply.set_text(call.method + " " + text);
    return reply.SerializeAsString();
  }
};

// Where a stream's actor ran its first message, and where it was homed then.
struct Where {
  std::atomic<int> home{-2};
  std::atomic<int> worker{-2};
};

// Echoes each raw message of a generic stream, then finishes when the client does.
using ByteSessionProtocol = Protocol<GrpcReceived<grpc::ByteBuffer>, GrpcReadsDone>;
class ByteEcho : public Actor<ByteEcho, ByteSessionProtocol> {
 public:
  ByteEcho(GrpcByteStream stream, const Scheduler* scheduler, Where* where)
      : stream_(std::move(stream)), scheduler_(scheduler), where_(where) {}
  void OnStart() override { (void)stream_.Start(self()); }
  void Handle(GrpcReceived<grpc::ByteBuffer> m) {
    if (where_->worker.load() == -2) {
      where_->home = self().cell()->home_worker();
      where_->worker = scheduler_->CurrentWorker();
    }
    (void)stream_.Write(std::move(m.message));
  }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    ctx().Stop();
  }

 private:
  GrpcByteStream stream_;
  const Scheduler* const scheduler_;
  Where* const where_;
};

// Where the calls run: every case three times.
enum class Served {
  kGrpcThreads,     // worker_queues = false
  kSharedQueue,     // worker queues, the default on 2 workers: one queue both poll
  kQueuePerWorker,  // worker queues, worker_queue_count = 2: each worker its own
};

class GatewayTest : public ::testing::TestWithParam<Served> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        gateway_.AddUnary("/troupe.examples.Echo/Say", system_.Spawn<Shouter>().value()).ok());
    ActorSystem* system = &system_;
    Where* where = &where_;
    ASSERT_TRUE(gateway_
                    .AddStream("/troupe.examples.Echo/Chat",
                               [system, where](GrpcByteStream s) {
                                 (void)system->Spawn<ByteEcho>(std::move(s), &system->scheduler(),
                                                               where);
                               })
                    .ok());
    auto port = gateway_.Start(
        {.address = "127.0.0.1:0",
         .max_message_bytes = 64 << 10,
         .worker_queues = GetParam() != Served::kGrpcThreads,
         .worker_queue_count = GetParam() == Served::kQueuePerWorker ? 2 : 0});
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    stub_ = Echo::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                              grpc::InsecureChannelCredentials()));
  }
  grpc::Status Say(const std::string& text, EchoReply* reply) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoRequest request;
    request.set_text(text);
    return stub_->Say(&context, request, reply);
  }

  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  Where where_;  // the last stream's actor
  GrpcGateway gateway_{system_};
  int port_ = 0;
  std::unique_ptr<Echo::Stub> stub_;
};

TEST_P(GatewayTest, AGenericUnaryMethodServesATypedClient) {
  EchoReply reply;
  grpc::Status status = Say("hello", &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "/troupe.examples.Echo/Say HELLO");
}

TEST_P(GatewayTest, AnActorErrorReachesTheClientWithItsCode) {
  EchoReply reply;
  grpc::Status status = Say("fail", &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "refused by the actor");
  ASSERT_TRUE(Say("fine", &reply).ok());
  ASSERT_TRUE(Say("fine again", &reply).ok());
  // Each call counted by method and code, with its latency.
  const std::string text = system_.metrics().TextFormat();
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_grpc_server_handled_total{method=\"/troupe."
                                         "examples.Echo/Say\",code=\"PERMISSION_DENIED\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_grpc_server_handled_total{method=\"/troupe."
                                         "examples.Echo/Say\",code=\"OK\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("troupe_grpc_server_handling_seconds_count{method=\"/"
                                         "troupe.examples.Echo/Say\"} 3\n"));
}

TEST_P(GatewayTest, AGenericStreamKeepsOrder) {
  grpc::ClientContext context;
  auto stream = stub_->Chat(&context);
  EchoRequest request;
  EchoReply reply;
  for (int i = 0; i < 1000; ++i) {
    request.set_text("m" + std::to_string(i));
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_EQ(reply.text(), request.text());  // the bytes came back unchanged
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  // With a queue per worker the stream's actor is homed at its call's worker (and ran there);
  // on a queue both workers poll, or on gRPC's threads, it has no home.
  if (GetParam() == Served::kQueuePerWorker) {
    EXPECT_GE(where_.home.load(), 0);
    EXPECT_EQ(where_.worker.load(), where_.home.load());
  } else {
    EXPECT_EQ(where_.home.load(), -1);
  }
}

TEST_P(GatewayTest, AMethodNobodyServesIsUnimplemented) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::ByteBuffer request = ToByteBuffer("x"), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/nobody.Serves/This", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("/nobody.Serves/This"), std::string::npos);
  // Counted, but not under the path the caller made up (that would grow without bound).
  const std::string text = system_.metrics().TextFormat();
  EXPECT_NE(text.find("troupe_grpc_server_handled_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("nobody.Serves"), std::string::npos);
}

TEST_P(GatewayTest, AnOversizedRequestIsRefusedAndTheServerCarriesOn) {
  EchoReply reply;
  grpc::Status status = Say(std::string(100 << 10, 'x'), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(Say("still here", &reply).ok());
}

TEST(GatewayWorkerQueuesTest, RefuseTypedCallbackServicesWhoseThreadsWouldTakeTheCalls) {
  ActorSystem system(ActorSystemOptions{.threads = 2});
  GrpcServerOptions options{.address = "127.0.0.1:0", .worker_queues = true};
  Echo::CallbackService typed;
  GrpcGateway with_service(system);
  ASSERT_TRUE(with_service.AddService(&typed).ok());
  EXPECT_THAT(with_service.Start(options), StatusIs(absl::StatusCode::kFailedPrecondition));
  // Methods by name, unary and streams: it starts.
  GrpcGateway by_name(system);
  ASSERT_TRUE(by_name.AddUnary("/a.B/C", system.Spawn<Shouter>().value()).ok());
  ASSERT_TRUE(by_name.AddStream("/a.B/Stream", [](GrpcByteStream) {}).ok());
  EXPECT_TRUE(by_name.Start(options).ok());
}

// Left unset, worker_queues is on for methods by name and off with a typed service (whose gRPC
// threads would take the calls): both serve.
TEST(GatewayWorkerQueuesTest, ByDefaultMethodsByNameAreServedByTheWorkersAndTypedOnesByGrpc) {
  ActorSystem system(ActorSystemOptions{.threads = 2});
  auto say = [](int port) {
    auto stub = Echo::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                  grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoRequest request;
    request.set_text("hi");
    EchoReply reply;
    return stub->Say(&context, request, &reply);
  };
  GrpcGateway by_name(system);
  ASSERT_TRUE(by_name.AddUnary("/troupe.examples.Echo/Say", system.Spawn<Shouter>().value()).ok());
  absl::StatusOr<int> port = by_name.Start({.address = "127.0.0.1:0"});
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_TRUE(say(*port).ok());
  const WorkerQueueStats queues = by_name.stats().queues;
  EXPECT_GE(queues.polled + queues.handed_over, 1u);  // the call came through a worker's queue

  Echo::CallbackService typed;  // answers UNIMPLEMENTED: served, by gRPC's threads
  GrpcGateway with_service(system);
  ASSERT_TRUE(with_service.AddService(&typed).ok());
  port = with_service.Start({.address = "127.0.0.1:0"});
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(say(*port).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(with_service.stats().queues.polled + with_service.stats().queues.handed_over, 0u);
}

// Echoes one message; at the client's half-close finishes the call and then blocks its worker
// (a handler that breaks the rule, on purpose) while the call's last events arrive.
class FinishThenBlock : public Actor<FinishThenBlock, ByteSessionProtocol> {
 public:
  explicit FinishThenBlock(GrpcByteStream stream) : stream_(std::move(stream)) {}
  void OnStart() override { (void)stream_.Start(self()); }
  void Handle(GrpcReceived<grpc::ByteBuffer> m) { (void)stream_.Write(std::move(m.message)); }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    // Holds the worker on purpose: Shutdown must still drain the call's last events.
    absl::SleepFor(absl::Milliseconds(400));
    ctx().Stop();
  }

 private:
  GrpcByteStream stream_;
};

// Shutdown while the only worker is stuck in a turn: the call's last events wait in the
// worker's queue, which Shutdown then polls itself until the calls are over, before closing it
// (see WorkerQueues::Shutdown), and it ends promptly.
TEST(GatewayWorkerQueuesTest, ShuttingDownWhileTheWorkerIsBusyEndsTheCallsCleanly) {
  ActorSystem system(ActorSystemOptions{.threads = 1});
  GrpcGateway gateway(system);
  ASSERT_TRUE(gateway
                  .AddStream("/troupe.examples.Echo/Chat",
                             [&system](GrpcByteStream s) {
                               (void)system.Spawn<FinishThenBlock>(std::move(s));
                             })
                  .ok());
  absl::StatusOr<int> port = gateway.Start({.address = "127.0.0.1:0"});
  ASSERT_TRUE(port.ok()) << port.status();
  auto stub = Echo::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(*port),
                                                grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Chat(&context);
  EchoRequest request;
  request.set_text("once");
  EchoReply reply;
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());  // the server finished; its worker now sleeps
  const absl::Time start = absl::Now();
  gateway.Shutdown(absl::ZeroDuration());
  // Polled to the end by Shutdown itself, not waited out (its patience is seconds).
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(GrpcMethodTest, NamesAGeneratedServicesMethodAsGrpcDoes) {
  EXPECT_EQ(GrpcMethod<Echo>("Say"), "/troupe.examples.Echo/Say");
}

TEST_P(GatewayTest, BadMethodNamesAndATakenPortAreClearErrors) {
  GrpcGateway other(system_);
  EXPECT_THAT(other.AddUnary("Say", system_.Spawn<Shouter>().value()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(other.AddUnary("/a.B/C", system_.Spawn<Shouter>().value()).ok());
  EXPECT_THAT(other.AddUnary("/a.B/C", system_.Spawn<Shouter>().value()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(other.Start({.address = "127.0.0.1:" + std::to_string(port_)}),
              StatusIs(absl::StatusCode::kUnavailable));
}

INSTANTIATE_TEST_SUITE_P(Served, GatewayTest,
                         ::testing::Values(Served::kGrpcThreads, Served::kSharedQueue,
                                           Served::kQueuePerWorker),
                         [](const auto& info) {
                           switch (info.param) {
                             case Served::kGrpcThreads:
                               return std::string("GrpcThreads");
                             case Served::kSharedQueue:
                               return std::string("SharedQueue");
                             case Served::kQueuePerWorker:
                               return std::string("QueuePerWorker");
                           }
                           return std::string();
                         });

}  // namespace
}  // namespace troupe
