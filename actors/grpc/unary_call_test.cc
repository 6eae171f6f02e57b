// Unary gRPC calls served by an actor: replies, actor errors, deadlines while the actor delays
// (on a timer, never a sleeping thread), and many concurrent delayed calls.
#include "actors/grpc/unary_call.h"

#include <dirent.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/grpc/gateway.h"
#include "actors/grpc/testing/served.h"
#include "framework/base/status_matchers.h"
#include "gtest/gtest.h"
#include "grpcpp/generic/generic_stub.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;

using EchoActorProtocol = Protocol<Request<EchoRequest, EchoReply>>;

// What the actor heard of calls whose clients gave up, by status code.
struct Cancellations {
  std::atomic<int> cancelled{0};
  std::atomic<int> deadline_exceeded{0};
};

// Answers with the same text after delay_ms (a timer); "fail" is answered with an error. Counts
// the calls given up on, and stops their timers.
class EchoActor : public Actor<EchoActor, EchoActorProtocol> {
 public:
  explicit EchoActor(Cancellations* heard) : heard_(heard) {}
  void Handle(EchoRequest request, Promise<EchoReply> promise) {
    if (request.text() == "fail") {
      promise.Fail(absl::FailedPreconditionError("asked to fail"));
      return;
    }
    EchoReply reply;
    reply.set_text(request.text());
    if (request.delay_ms() == 0) {
      promise.Reply(std::move(reply));
      return;
    }
    auto timer = std::make_shared<TimerHandle>();
    ctx().OnCancel(promise, [this, timer](absl::Status why) {
      timer->Cancel();
      ++(why.code() == absl::StatusCode::kCancelled ? heard_->cancelled
                                                    : heard_->deadline_exceeded);
    });
    *timer = ctx().RunAfter(absl::Milliseconds(request.delay_ms()),
                            [promise = std::move(promise), reply = std::move(reply)]() mutable {
                              promise.Reply(std::move(reply));
                            });
  }

 private:
  Cancellations* heard_;
};

class EchoService final : public Echo::CallbackService {
 public:
  EchoService(ActorSystem& system, ActorRef<EchoActorProtocol> actor)
      : system_(system), actor_(std::move(actor)) {}
  grpc::ServerUnaryReactor* Say(grpc::CallbackServerContext* context, const EchoRequest* request,
                                EchoReply* reply) override {
    return AskForCall(system_, context, actor_, *request, reply);
  }

 private:
  ActorSystem& system_;
  ActorRef<EchoActorProtocol> actor_;
};

int ThreadCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// The same calls served three ways: a typed callback service on a plain gRPC server
// (AskForCall on gRPC's threads), and the gateway's typed unary method by name, on gRPC's threads
// and on the workers' completion queues (GrpcServerOptions::worker_queues).
using ::troupe::testing::Served;

class UnaryCallTest : public ::testing::TestWithParam<Served> {
 protected:
  void SetUp() override {
    actor_ = system_.Spawn<EchoActor>(&heard_).value();
    int port = 0;
    if (GetParam() == Served::kCallbackService) {
      service_ = std::make_unique<EchoService>(system_, actor_);
      server_ = ::troupe::testing::StartPlainServer(service_.get(), &port);
      ASSERT_NE(server_, nullptr);
    } else {
      gateway_ = std::make_unique<GrpcGateway>(system_);
      ASSERT_TRUE((gateway_->AddUnary<EchoRequest, EchoReply>(
                       GrpcMethod<Echo>("Say"), actor_))
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
    if (server_) server_->Shutdown();
    if (gateway_ && GetParam() == Served::kWorkerQueues) {
      // Everything ran on the workers: calls taken from the queues by a polling worker, or by
      // the standby while the workers slept.
      const WorkerQueueStats q = gateway_->stats().queues;
      EXPECT_GT(q.polled + q.handed_over, 0u);
    }
    gateway_.reset();
  }

  grpc::Status Say(const std::string& text, uint32_t delay_ms, absl::Duration deadline,
                   EchoReply* reply) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    EchoRequest request;
    request.set_text(text);
    request.set_delay_ms(delay_ms);
    return stub_->Say(&context, request, reply);
  }

  Cancellations heard_;
  ActorSystem system_{ActorSystemOptions{.threads = 2}};
  ActorRef<EchoActorProtocol> actor_;
  std::unique_ptr<EchoService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcGateway> gateway_;
  int port_ = 0;
  std::unique_ptr<Echo::Stub> stub_;
};

TEST_P(UnaryCallTest, RepliesAndErrorsCarryOver) {
  EchoReply reply;
  grpc::Status status = Say("hello", 0, absl::Seconds(5), &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "hello");
  status = Say("fail", 0, absl::Seconds(5), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "asked to fail");
}

TEST_P(UnaryCallTest, TheCallsDeadlineEndsAnAskThatTakesTooLong) {
  EchoReply reply;
  const absl::Time start = absl::Now();
  grpc::Status status = Say("slow", 2000, absl::Milliseconds(200), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  // The actor hears of it (and cancels its timer); meanwhile it keeps serving.
  ASSERT_TRUE(Say("next", 0, absl::Seconds(5), &reply).ok());
  EXPECT_EQ(reply.text(), "next");
  const absl::Time limit = absl::Now() + absl::Seconds(5);
  // (DEADLINE_EXCEEDED when the server saw the deadline pass; CANCELLED if a slow server saw
  // the client's cancellation first.)
  while (heard_.deadline_exceeded.load() + heard_.cancelled.load() == 0 && absl::Now() < limit) {
    // Real time: the actor hears of the deadline through gRPC's threads.
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(heard_.deadline_exceeded.load() + heard_.cancelled.load(), 1);
}

TEST_P(UnaryCallTest, AClientCancellationReachesTheActor) {
  grpc::ClientContext context;
  EchoRequest request;
  request.set_text("cancel me");
  request.set_delay_ms(10000);
  EchoReply reply;
  std::atomic<bool> done{false};
  grpc::Status status;
  stub_->async()->Say(&context, &request, &reply, [&](grpc::Status s) {
    status = s;
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(100));  // the actor holds the request
  context.TryCancel();
  const absl::Time limit = absl::Now() + absl::Seconds(5);
  while ((!done.load() || heard_.cancelled.load() == 0) && absl::Now() < limit) {
    // Real time: the cancellation reaches the actor through gRPC's threads.
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_TRUE(done.load());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(heard_.cancelled.load(), 1);
  EXPECT_EQ(heard_.deadline_exceeded.load(), 0);
}

TEST_P(UnaryCallTest, ManyDelayedCallsWaitOnTimersNotThreads) {
  constexpr int kCalls = 500;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<EchoRequest> requests(kCalls);
  std::vector<EchoReply> replies(kCalls);
  const int threads_before = ThreadCount();
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    requests[i].set_text("call " + std::to_string(i));
    requests[i].set_delay_ms(300);
    stub_->async()->Say(contexts.back().get(), &requests[i], &replies[i], [&, i](grpc::Status s) {
      if (s.ok() && replies[i].text() == "call " + std::to_string(i)) ++ok;
      ++done;
    });
  }
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  // Real time: the 300 ms delays are the actor's timers on the real clock.
  while (done.load() < kCalls && absl::Now() < limit) absl::SleepFor(absl::Milliseconds(5));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ok.load(), kCalls);
  // They overlap: about one delay in all, not 500 of them, and no thread per waiting call.
  EXPECT_LT(took, absl::Seconds(3)) << took;
  EXPECT_LT(ThreadCount() - threads_before, 20);
  std::printf("%d delayed calls (300 ms each) took %s; threads %d -> %d\n", kCalls,
              absl::FormatDuration(took).c_str(), threads_before, ThreadCount());
}

TEST_P(UnaryCallTest, ARequestThatDoesNotParseIsInvalidArgumentAndAnUnknownMethodUnimplemented) {
  if (GetParam() == Served::kCallbackService) GTEST_SKIP() << "gRPC's own parsing answers it";
  grpc::GenericStub generic(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                                grpc::InsecureChannelCredentials()));
  const auto call = [&](const std::string& method, const std::string& bytes) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    grpc::ByteBuffer request = ToByteBuffer(bytes), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  };
  const grpc::Status bad = call("/troupe.examples.Echo/Say", std::string("\xff\xff\xff", 3));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.error_message();
  EXPECT_NE(bad.error_message().find("troupe.examples.EchoRequest"), std::string::npos);
  EXPECT_EQ(call("/nobody.Serves/This", "x").error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EchoReply reply;
  ASSERT_TRUE(Say("still serving", 0, absl::Seconds(5), &reply).ok());
}

INSTANTIATE_TEST_SUITE_P(Served, UnaryCallTest,
                         ::testing::ValuesIn(::troupe::testing::kEveryWayServed),
                         ::troupe::testing::ServedName);

}  // namespace
}  // namespace troupe
