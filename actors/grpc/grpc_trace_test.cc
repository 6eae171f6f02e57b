// Trace context through the gateway: a caller's `traceparent` reaches the actor serving the
// call (typed unary, generic unary, streams) as the same trace, under the gateway's span of the
// call, whose span is recorded with the method and status; a malformed header leaves the call
// untraced and still served; AddTraceContext() passes the current trace on to a call made.
#include "actors/grpc/grpc_trace.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/grpc/gateway.h"
#include "actors/grpc/unary_call.h"
#include "framework/base/mutex.h"
#include "framework/testing/span_recorder.h"
#include "framework/testing/wait_for.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;
using testing::AttributeOf;
using testing::SpanRecorder;

constexpr char kCaller[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr uint64_t kCallerSpan = 0x00f067aa0ba902b7;

using Seen = testing::SeenTraces;  // the traces the handlers ran under

class TypedEcho : public Actor<TypedEcho, Protocol<Request<EchoRequest, EchoReply>>> {
 public:
  explicit TypedEcho(Seen* seen) : seen_(seen) {}
  EchoReply Handle(EchoRequest request) {
    seen_->Record();
    EchoReply reply;
    reply.set_text(request.text());
    return reply;
  }

 private:
  Seen* seen_;
};

class BytesEcho : public Actor<BytesEcho, Protocol<Request<GrpcBytes, std::string>>> {
 public:
  explicit BytesEcho(Seen* seen) : seen_(seen) {}
  std::string Handle(GrpcBytes call) {
    seen_->Record();
    return call.payload;
  }

 private:
  Seen* seen_;
};

class StreamEcho : public Actor<StreamEcho, Protocol<GrpcReceived<grpc::ByteBuffer>, GrpcReadsDone>> {
 public:
  StreamEcho(GrpcByteStream stream, Seen* seen) : stream_(std::move(stream)), seen_(seen) {}
  void OnStart() override { (void)stream_.Start(self()); }
  void Handle(GrpcReceived<grpc::ByteBuffer> m) {
    seen_->Record();
    (void)stream_.Write(std::move(m.message));
  }
  void Handle(GrpcReadsDone) {
    stream_.Finish();
    ctx().Stop();
  }

 private:
  GrpcByteStream stream_;
  Seen* seen_;
};

class EchoService final : public Echo::CallbackService {
 public:
  EchoService(ActorSystem& system, ActorRef<TypedEcho::ActorProtocol> actor)
      : system_(system), actor_(std::move(actor)) {}
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest* request,
                                EchoReply* reply) override {
    return AskForCall(system_, context, actor_, *request, reply);
  }

 private:
  ActorSystem& system_;
  ActorRef<TypedEcho::ActorProtocol> actor_;
};

// Every case with the typed Say in a callback service (the gateway then serves on gRPC's
// threads, through its interceptor) and added by name (on the workers' completion queues,
// where the gateway's call does the interceptor's work).
class GrpcTraceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      ASSERT_TRUE((gateway_.AddUnary<EchoRequest, EchoReply>("/troupe.examples.Echo/Say", typed_)
                       .ok()));
    } else {
      ASSERT_TRUE(gateway_.AddService(&service_).ok());
    }
    ASSERT_TRUE(gateway_.AddUnary("/t.Bytes/Echo", system_.Spawn<BytesEcho>(&seen_).value()).ok());
    ASSERT_TRUE(gateway_
                    .AddStream("/t.Bytes/Stream",
                               [this](GrpcByteStream s) {
                                 (void)system_.Spawn<StreamEcho>(std::move(s), &seen_);
                               })
                    .ok());
    auto port = gateway_.Start({.address = "127.0.0.1:0"});
    ASSERT_TRUE(port.ok()) << port.status();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(*port),
                                   grpc::InsecureChannelCredentials());
  }

  grpc::Status Say(const char* traceparent) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    if (traceparent != nullptr) context.AddMetadata("traceparent", traceparent);
    EchoRequest request;
    request.set_text("hi");
    EchoReply reply;
    return Echo::NewStub(channel_)->Say(&context, request, &reply);
  }

  // The server span of `method` and the actor span under it; checks how they link.
  void ExpectServerThenActor(const std::string& method, uint64_t caller_span,
                             const TraceContext& seen_by_actor) {
    ASSERT_TRUE(testing::WaitFor([&] { return spans_->Get().size() >= 2; }));
    const Span* server = nullptr;
    const Span* actor = nullptr;
    std::vector<Span> spans = spans_->Get();
    for (const Span& s : spans) {
      if (s.kind == Span::Kind::kServer) server = &s;
      if (s.kind == Span::Kind::kActor) actor = &s;
    }
    ASSERT_NE(server, nullptr);
    ASSERT_NE(actor, nullptr);
    EXPECT_EQ(server->name, method);
    EXPECT_EQ(server->parent_span_id, caller_span);
    EXPECT_EQ(AttributeOf(*server, "grpc_code"), "OK");
    EXPECT_EQ(actor->parent_span_id, server->context.span_id);
    EXPECT_EQ(actor->context.span_id, seen_by_actor.span_id);
    EXPECT_EQ(actor->context.trace_id, server->context.trace_id);
    EXPECT_GE(actor->start, server->start);
  }

  Seen seen_;
  std::shared_ptr<SpanRecorder> spans_ = std::make_shared<SpanRecorder>();
  ActorSystem system_{{.threads = 2, .span_sink = spans_}};
  ActorRef<TypedEcho::ActorProtocol> typed_ = system_.Spawn<TypedEcho>(&seen_).value();
  EchoService service_{system_, typed_};
  GrpcGateway gateway_{system_};
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(GrpcTraceTest, ATypedCallRunsInTheCallersTraceUnderTheGatewaysSpan) {
  ASSERT_TRUE(Say(kCaller).ok());
  std::vector<std::optional<TraceContext>> seen = seen_.Get();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_TRUE(seen[0].has_value());
  EXPECT_EQ(seen[0]->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(seen[0]->sampled());
  ExpectServerThenActor("/troupe.examples.Echo/Say", kCallerSpan, *seen[0]);
  const WorkerQueueStats queues = gateway_.stats().queues;
  EXPECT_EQ(queues.polled + queues.handed_over > 0, GetParam());  // served where it should be
}

TEST_P(GrpcTraceTest, GenericUnaryAndStreamCallsAreTracedToo) {
  grpc::GenericStub stub(channel_);
  {
    grpc::ClientContext context;
    context.AddMetadata("traceparent", kCaller);
    grpc::Slice slice(std::string("x"));
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/t.Bytes/Echo", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) { done.set_value(s); });
    ASSERT_TRUE(done.get_future().get().ok());
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("traceparent", kCaller);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&context, "/t.Bytes/Stream", &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    grpc::Slice slice(std::string("y"));
    grpc::ByteBuffer message(&slice, 1), echoed;
    call->Write(message, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    call->Read(&echoed, reinterpret_cast<void*>(3));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    call->WritesDone(reinterpret_cast<void*>(4));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    EXPECT_TRUE(status.ok()) << status.error_message();
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  std::vector<std::optional<TraceContext>> seen = seen_.Get();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& t : seen) {
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  }
  ASSERT_TRUE(testing::WaitFor([&] { return spans_->Get().size() >= 4; }));
  int servers = 0;
  for (const Span& s : spans_->Get()) {
    if (s.kind == Span::Kind::kServer) {
      ++servers;
      EXPECT_EQ(s.parent_span_id, kCallerSpan);
    }
  }
  EXPECT_EQ(servers, 2);
}

TEST_P(GrpcTraceTest, AMalformedTraceparentIsIgnoredAndTheCallServed) {
  for (const char* bad : {"garbage", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""}) {
    EXPECT_TRUE(Say(bad).ok()) << bad;
  }
  EXPECT_TRUE(Say(nullptr).ok());
  for (const auto& t : seen_.Get()) EXPECT_FALSE(t.has_value());
  // Real time: a span recorded by mistake would arrive from gRPC's threads meanwhile.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(spans_->Get().empty());
}

TEST_P(GrpcTraceTest, AddTraceContextPassesTheCurrentTraceOn) {
  const TraceContext mine = TraceContext::NewRoot();
  {
    ScopedTrace scope(&mine);  // as inside a traced handler
    grpc::ClientContext context;
    AddTraceContext(&context);
    EchoRequest request;
    EchoReply reply;
    ASSERT_TRUE(Echo::NewStub(channel_)->Say(&context, request, &reply).ok());
  }
  std::vector<std::optional<TraceContext>> seen = seen_.Get();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_TRUE(seen[0].has_value());
  EXPECT_EQ(seen[0]->trace_id, mine.trace_id);
  ExpectServerThenActor("/troupe.examples.Echo/Say", mine.span_id, *seen[0]);

  grpc::ClientContext untraced;
  AddTraceContext(&untraced);  // nothing current: nothing added
  EchoRequest request;
  EchoReply reply;
  ASSERT_TRUE(Echo::NewStub(channel_)->Say(&untraced, request, &reply).ok());
  seen = seen_.Get();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[1].has_value());
}

INSTANTIATE_TEST_SUITE_P(Served, GrpcTraceTest, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "WorkerQueues" : "CallbackService");
});

}  // namespace
}  // namespace troupe
