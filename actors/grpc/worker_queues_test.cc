// WorkerQueues on a real gRPC server (the async Echo service) and a real ActorSystem: each call's
// events run on a worker that polls its queue (the queue's only one, or either of two sharing
// it), whether the call arrives while the workers are busy (they poll) or asleep (the standby
// hands it over); a queue two workers share goes on serving its calls while either worker is
// stuck in a long turn; an idle system polls nothing; shutting down with calls still waiting
// for their actor neither hangs nor leaks (ASan in CI).
#include "actors/grpc/worker_queues.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "framework/base/mutex.h"
#include "framework/base/notification.h"
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

// Holds worker `worker` until released (or 30 s pass): a turn stuck in a computation. Homed
// there by the test; a turn that still finds itself elsewhere (the cell was already runnable
// on the other worker) sends the message again, which goes home.
// The flags are shared with the turn: it may read `release` once more after the test has set it
// and returned.
struct StickGate {
  Notification started;
  std::atomic<bool> release{false};
};
struct Stick {
  int worker;
  std::shared_ptr<StickGate> gate;
};
class Sticker : public Actor<Sticker, Protocol<Stick>> {
 public:
  void Handle(Stick stick) {
    if (ctx().system().scheduler().CurrentWorker() != stick.worker) {
      self().Tell(stick);
      return;
    }
    stick.gate->started.Notify();
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!stick.gate->release.load() && absl::Now() < give_up) {
    }
  }
};

struct Seen {
  Mutex mu;
  // Per call: the worker that polled its queue's only worker (-1: shared), the worker that
  // handled the call's arrival, the worker the actor's turn ran on.
  struct Call {
    int sole_worker, proceed, turn;
  };
  std::vector<Call> calls ABSL_GUARDED_BY(mu);
};

// One Say call on the async API, its tags on queue `w`.
class SayCall final : public WorkerQueueTag {
 public:
  SayCall(Echo::AsyncService* service, WorkerQueues* queues, int w, ActorSystem* system,
          ActorRef<Protocol<Request<EchoRequest, EchoReply>>> actor, Seen* seen)
      : service_(service),
        queues_(queues),
        w_(w),
        system_(system),
        actor_(actor),
        seen_(seen),
        responder_(&context_) {
    service_->RequestSay(&context_, &request_, &responder_, queues_->queue(w_), queues_->queue(w_),
                         this);
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
        seen_->calls.push_back({queues_->sole_worker(w_), proceed_worker_,
                                std::stoi(text.substr(text.rfind('@') + 1))});
      }
      responder_.Finish(
          reply_, reply.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, "no"),
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

// Two workers and `queues` completion queues (2: one each; 1: both poll it).
class WorkerQueuesFixture : public ::testing::Test {
 protected:
  void Start(int queues) {
    system_ = std::make_unique<ActorSystem>(ActorSystemOptions{.threads = 2});
    echoer_ = system_->Spawn<Echoer>().value();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
    for (int i = 0; i < queues; ++i) cqs.push_back(builder.AddCompletionQueue());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    queues_ = std::make_unique<WorkerQueues>(system_->scheduler(), std::move(cqs));
    for (int w = 0; w < queues; ++w) {
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

  grpc::Status Say(const std::string& text, EchoReply* reply,
                   absl::Duration deadline = absl::Seconds(10)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
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

// Every case with a queue per worker, and with one queue for the two workers.
class WorkerQueuesTest : public WorkerQueuesFixture, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override { Start(GetParam()); }
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
  ASSERT_EQ(seen_.calls.size(), 1620u);
  for (const Seen::Call& call : seen_.calls) {
    EXPECT_GE(call.proceed, 0) << "a call's event was handled off the workers";
    if (call.sole_worker >= 0) {
      EXPECT_EQ(call.proceed, call.sole_worker) << "an event was handled off its queue's worker";
    }
    EXPECT_GE(call.turn, 0);
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

// One queue both workers poll, and one of them stuck in a long turn (StuckWorker0: the worker
// that would be the queue's only one with a queue per worker): the other serves every call
// meanwhile - while awake it polls, while asleep the standby hands it the calls once the stuck
// one has not polled for a while.
class SharedQueueTest : public WorkerQueuesFixture, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override { Start(1); }
};

TEST_P(SharedQueueTest, ServesItsCallsWhileAWorkerIsStuck) {
  EXPECT_EQ(queues_->sole_worker(0), -1);
  const int stuck = GetParam();
  ActorRef<Protocol<Stick>> sticker = system_->Spawn<Sticker>().value();
  sticker.cell()->SetHomeWorker(stuck);  // its turn runs there
  auto gate = std::make_shared<StickGate>();
  sticker.Tell(Stick{stuck, gate});
  ASSERT_TRUE(gate->started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    EchoReply reply;
    if (!Say(absl::StrCat("meanwhile", i), &reply, absl::Seconds(5)).ok()) break;
    ++answered;
  }
  const bool still_stuck = !gate->release.exchange(true);  // the calls were answered meanwhile
  EXPECT_TRUE(still_stuck);
  EXPECT_EQ(answered, 20);
  MutexLock lock(&seen_.mu);
  for (const Seen::Call& call : seen_.calls) {
    EXPECT_NE(call.proceed, stuck) << "a call's arrival was handled by the stuck worker";
  }
}

INSTANTIATE_TEST_SUITE_P(Workers, SharedQueueTest, ::testing::Values(0, 1),
                         [](const auto& info) { return absl::StrCat("StuckWorker", info.param); });

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
