// WorkerQueues on a real gRPC server (the async Echo service) and a real ActorSystem: each call's
// events and the actor turn answering it run on one worker, whether the call arrives while the
// worker is busy (it polls) or asleep (the standby hands it over); an idle system polls
// nothing; shutting down with calls still waiting for their actor neither hangs nor leaks
// (ASan in CI).
#include "actors/grpc/worker_queues.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/base/process_cpu.h"
#include "framework/base/status_matchers.h"
#include "framework/system/actor_system.h"
#include "framework/testing/wait_for.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/echo.grpc.pb.h"

namespace troupe {
namespace {

using examples::Echo;
using examples::EchoReply;
using examples::EchoRequest;
using ::troupe::testing::IsOk;
using ::troupe::testing::StatusIs;

// Answers with the text and the worker its turn ran on; a request with delay_ms waits that long
// (on a timer, not blocking the loop) before answering.
class Echoer : public Actor<Echoer, Protocol<Request<EchoRequest, EchoReply>>> {
 public:
  EchoReply Handle(EchoRequest request) {
    EchoReply reply;
    reply.set_text(absl::StrCat(request.text(), "@", ctx().system().scheduler().CurrentWorker()));
    return reply;
  }
};

struct Seen {
  Mutex mu;
  std::vector<std::pair<int, int>> proceed_and_turn ABSL_GUARDED_BY(mu);  // worker ids
};

// One Say call on the async API, its tags on queue `w`.
class SayCall final : public WorkerQueueTag {
 public:
  SayCall(Echo::AsyncService* service, WorkerQueues* queues, int w, ActorSystem* system,
          ActorRef<Protocol<Request<EchoRequest, EchoReply>>> actor, Seen* seen)
      : service_(service), queues_(queues), w_(w), system_(system), actor_(actor), seen_(seen),
        responder_(&context_) {
    service_->RequestSay(&context_, &request_, &responder_, queues_->queue(w_),
                         queues_->queue(w_), this);
  }
  void Proceed(bool ok) override {
    if (!ok || finishing_) {
      delete this;
      return;
    }
    if (queues_->accepting()) {
      WorkerQueues::OpGuard guard(*queues_);
      if (guard) new SayCall(service_, queues_, w_, system_, actor_, seen_);
    }
    proceed_worker_ = system_->scheduler().CurrentWorker();
    finishing_ = true;
    system_->Ask(actor_, request_, absl::Seconds(30), [this](absl::StatusOr<EchoReply> reply) {
      WorkerQueues::OpGuard guard(*queues_);
      if (!guard) {  // the queues closed: no Finish, no tag will come back
        delete this;
        return;
      }
      if (reply.ok()) {
        reply_ = *reply;
        const std::string text = reply_.text();
        MutexLock lock(&seen_->mu);
        seen_->proceed_and_turn.emplace_back(proceed_worker_,
                                             std::stoi(text.substr(text.rfind('@') + 1)));
      }
      responder_.Finish(reply_, reply.ok() ? grpc::Status::OK
                                           : grpc::Status(grpc::StatusCode::UNAVAILABLE, "no"),
                        this);
    });
  }

 private:
  Echo::AsyncService* const service_;
  WorkerQueues* const queues_;
  const int w_;
  ActorSystem* const system_;
  const ActorRef<Protocol<Request<EchoRequest, EchoReply>>> actor_;
  Seen* const seen_;
  grpc::ServerContext context_;
  EchoRequest request_;
  EchoReply reply_;
  grpc::ServerAsyncResponseWriter<EchoReply> responder_;
  int proceed_worker_ = -1;
  bool finishing_ = false;
};

// Every case with a queue per worker, and with one queue for the two workers.
class WorkerQueuesTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    system_ = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 2});
    echoer_ = system_->Spawn<Echoer>().value();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
    for (int i = 0; i < GetParam(); ++i) cqs.push_back(builder.AddCompletionQueue());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    queues_ = std::make_unique<WorkerQueues>(system_->scheduler(), std::move(cqs));
    for (int w = 0; w < GetParam(); ++w) {
      for (int i = 0; i < 4; ++i) {
        new SayCall(&service_, queues_.get(), w, system_.get(), echoer_, &seen_);
      }
    }
    ASSERT_THAT(queues_->Start(), IsOk());
    stub_ = Echo::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    if (queues_) queues_->Shutdown();
  }

  grpc::Status Say(const std::string& text, EchoReply* reply) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    EchoRequest request;
    request.set_text(text);
    return stub_->Say(&context, request, reply);
  }

  std::unique_ptr<ActorSystem> system_;
  ActorRef<Protocol<Request<EchoRequest, EchoReply>>> echoer_;
  Echo::AsyncService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<WorkerQueues> queues_;
  std::unique_ptr<Echo::Stub> stub_;
  Seen seen_;
};

TEST_P(WorkerQueuesTest, EveryCallRunsOnAWorkerAsleepOrBusy) {
  // Calls one at a time with pauses: each finds the workers asleep (the standby hands it over).
  for (int i = 0; i < 20; ++i) {
    EchoReply reply;
    ASSERT_TRUE(Say(absl::StrCat("slow", i), &reply).ok());
    absl::SleepFor(absl::Milliseconds(5));  // the workers fall asleep meanwhile
  }
  const WorkerQueueStats idle = queues_->stats();
  EXPECT_GT(idle.handed_over, 0u);
  // Then 8 threads of back-to-back calls: the workers poll their queues themselves.
  std::vector<std::thread> clients;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        EchoReply reply;
        if (!Say(absl::StrCat("fast", t, "-", i), &reply).ok()) failed++;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  const WorkerQueueStats busy = queues_->stats();
  EXPECT_GT(busy.polled - idle.polled, 1600u / 2);  // most events polled, not handed over
  MutexLock lock(&seen_.mu);
  ASSERT_EQ(seen_.proceed_and_turn.size(), 1620u);
  for (const auto& [proceed, turn] : seen_.proceed_and_turn) {
    EXPECT_GE(proceed, 0) << "a call's event was handled off the workers";
    EXPECT_LT(proceed, GetParam()) << "a call's event was handled by a worker without a queue";
    EXPECT_GE(turn, 0);
  }
}

TEST_P(WorkerQueuesTest, AnIdleSystemPollsNothing) {
  EchoReply reply;
  ASSERT_TRUE(Say("warm", &reply).ok());
  // Real time: the warm-up call's last events settle and the workers go to sleep.
  absl::SleepFor(absl::Milliseconds(50));
  const WorkerQueueStats before = queues_->stats();
  const double cpu = ProcessCpuSeconds();
  // Idle for a while on purpose: workers or standbys that spin would show in the CPU.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_LT(ProcessCpuSeconds() - cpu, 0.05) << "the workers or standbys spin while idle";
  const WorkerQueueStats after = queues_->stats();
  EXPECT_EQ(after.polled, before.polled);
  EXPECT_EQ(after.handed_over, before.handed_over);
}

TEST_P(WorkerQueuesTest, ShuttingDownWithCallsWaitingEndsThemAndLeaksNothing) {
  // Calls in flight while the server shuts down: each is answered or cancelled, none hangs.
  std::vector<std::thread> clients;
  std::atomic<int> done{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        EchoReply reply;
        (void)Say("x", &reply);
      }
      done++;
    });
  }
  // Real time: let the clients get calls in flight before the server shuts down.
  absl::SleepFor(absl::Milliseconds(20));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
  queues_->Shutdown();
  for (auto& c : clients) c.join();
  EXPECT_EQ(done.load(), 4);
  server_.reset();
  queues_.reset();
}

INSTANTIATE_TEST_SUITE_P(Queues, WorkerQueuesTest, ::testing::Values(2, 1),
                         [](const auto& info) { return absl::StrCat(info.param, "Queues"); });

TEST(WorkerQueuesStartTest, NeedsOneQueueToOneAWorker) {
  ActorSystem system(ActorSystemOptions{.threads = 2});
  WorkerQueues none(system.scheduler(), {});
  EXPECT_THAT(none.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
  grpc::ServerBuilder builder;
  Echo::AsyncService service;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int i = 0; i < 3; ++i) cqs.push_back(builder.AddCompletionQueue());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  WorkerQueues three(system.scheduler(), std::move(cqs));
  EXPECT_THAT(three.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
  server->Shutdown(absl::ToChronoTime(absl::Now()));
  three.Shutdown();
}

}  // namespace
}  // namespace troupe
