// Request/response: asks with deadlines, deferred replies, coroutine handlers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/actor/actor.h"
#include "framework/base/status_matchers.h"
#include "framework/system/actor_system.h"
#include "framework/testing/test_system.h"

namespace troupe {
namespace {

using ::troupe::testing::IsOkAndHolds;
using ::troupe::testing::StatusIs;
using ::troupe::testing::TestSystem;

struct Add {
  int a, b;
};
struct Slow {};         // replied to later, through a Promise
struct ReleaseSlow {};  // makes the Slow replies happen
struct Ignore {};       // drops its Promise without replying
struct Never {};        // keeps its Promise forever
struct Fails {};
using CalcProtocol = Protocol<Request<Add, int>, Request<Slow, std::string>, ReleaseSlow,
                              Request<Ignore, int>, Request<Never, int>, Request<Fails, int>>;

class Calculator : public Actor<Calculator, CalcProtocol> {
 public:
  int Handle(Add m) { return m.a + m.b; }
  void Handle(Slow, Promise<std::string> reply) { pending_.push_back(std::move(reply)); }
  void Handle(ReleaseSlow) {
    for (auto& p : pending_) p.Reply("done");
    pending_.clear();
  }
  void Handle(Ignore, Promise<int>) {}
  void Handle(Never, Promise<int> reply) { kept_.push_back(std::move(reply)); }
  absl::StatusOr<int> Handle(Fails) { return absl::PermissionDeniedError("no"); }

 private:
  std::vector<Promise<std::string>> pending_;
  std::vector<Promise<int>> kept_;
};

TEST(AskTest, ForeignAskGetsTheReply) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto sum = t.system().Ask(calc, Add{2, 3}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(sum.get(), IsOkAndHolds(5));
}

TEST(AskTest, HandlerErrorsReachTheAsker) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto r = t.system().Ask(calc, Fails{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(AskTest, DeferredRepliesThroughPromise) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto r1 = t.system().Ask(calc, Slow{}, absl::Seconds(1));
  auto r2 = t.system().Ask(calc, Slow{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_EQ(r1.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  calc.Tell(ReleaseSlow{});
  t.RunUntilIdle();
  EXPECT_THAT(r1.get(), IsOkAndHolds("done"));
  EXPECT_THAT(r2.get(), IsOkAndHolds("done"));
}

TEST(AskTest, TimesOutWithDeadlineExceededAndALateReplyIsDropped) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto r = t.system().Ask(calc, Slow{}, absl::Milliseconds(100));
  t.RunUntilIdle();
  t.AdvanceClock(absl::Milliseconds(99));
  EXPECT_EQ(r.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  t.AdvanceClock(absl::Milliseconds(1));
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  calc.Tell(ReleaseSlow{});  // the late reply must be dropped safely
  t.RunUntilIdle();
}

// Keeps each request and listens for its cancellation; Finish answers all kept ones.
struct Work {
  int id;
};
struct FinishWork {};
struct CancelledIds {};
using WorkerProtocol = Protocol<Request<Work, int>, FinishWork, Request<CancelledIds, std::string>>;

class Worker : public Actor<Worker, WorkerProtocol> {
 public:
  void Handle(Work w, Promise<int> reply) {
    ctx().OnCancel(reply, [this, id = w.id](absl::Status why) {
      cancelled_ += std::to_string(id) + ":" + absl::StatusCodeToString(why.code()) + " ";
    });
    kept_.push_back(std::move(reply));
  }
  void Handle(FinishWork) {
    for (auto& p : kept_) p.Reply(1);
    kept_.clear();
  }
  std::string Handle(CancelledIds) { return cancelled_; }

 private:
  std::vector<Promise<int>> kept_;
  std::string cancelled_;
};

TEST(AskCancelTest, TheDeadlineReachesTheResponderAsACancellation) {
  TestSystem t;
  auto worker = t.system().Spawn<Worker>().value();
  auto r = t.system().Ask(worker, Work{1}, absl::Milliseconds(50));
  t.RunUntilIdle();
  t.AdvanceClock(absl::Milliseconds(50));
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  auto seen = t.system().Ask(worker, CancelledIds{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(seen.get(), IsOkAndHolds("1:DEADLINE_EXCEEDED "));
}

TEST(AskCancelTest, TheAskerCancelsAndTheResponderHearsOfItOnce) {
  TestSystem t;
  auto worker = t.system().Spawn<Worker>().value();
  std::optional<absl::StatusOr<int>> got;
  AskHandle h = t.system().Ask(worker, Work{7}, absl::Seconds(10),
                               [&](absl::StatusOr<int> r) { got = std::move(r); });
  t.RunUntilIdle();
  EXPECT_FALSE(got.has_value());
  EXPECT_TRUE(h.Cancel());
  EXPECT_FALSE(h.Cancel(absl::AbortedError("again")));  // once only
  ASSERT_TRUE(got.has_value());
  EXPECT_THAT(*got, StatusIs(absl::StatusCode::kCancelled));
  worker.Tell(FinishWork{});  // the late reply is dropped
  auto seen = t.system().Ask(worker, CancelledIds{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(seen.get(), IsOkAndHolds("7:CANCELLED "));
}

TEST(AskCancelTest, AnAnsweredRequestNeverRunsItsCancelHook) {
  TestSystem t;
  auto worker = t.system().Spawn<Worker>().value();
  std::optional<absl::StatusOr<int>> got;
  AskHandle h = t.system().Ask(worker, Work{3}, absl::Seconds(10),
                               [&](absl::StatusOr<int> r) { got = std::move(r); });
  t.RunUntilIdle();
  worker.Tell(FinishWork{});
  t.RunUntilIdle();
  EXPECT_THAT(*got, IsOkAndHolds(1));
  EXPECT_TRUE(h.done());
  EXPECT_FALSE(h.Cancel());
  auto seen = t.system().Ask(worker, CancelledIds{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(seen.get(), IsOkAndHolds(""));
}

TEST(AskCancelTest, ACancelBeforeTheResponderListensIsReportedWhenItDoes) {
  TestSystem t;
  auto worker = t.system().Spawn<Worker>().value();
  AskHandle h = t.system().Ask(worker, Work{5}, absl::Seconds(10), [](absl::StatusOr<int>) {});
  h.Cancel();  // before the worker ran the request
  t.RunUntilIdle();
  auto seen = t.system().Ask(worker, CancelledIds{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(seen.get(), IsOkAndHolds("5:CANCELLED "));
}

TEST(AskCancelTest, CancelRacingTheReplyCompletesEachRequestExactlyOnce) {
  ActorSystem system({.threads = 2});
  auto worker = system.Spawn<Worker>().value();
  constexpr int kAsks = 2000;
  std::atomic<int> completions{0}, ok{0};
  std::vector<AskHandle> handles;
  for (int i = 0; i < kAsks; ++i) {
    handles.push_back(system.Ask(worker, Work{i}, absl::Seconds(30), [&](absl::StatusOr<int> r) {
      if (r.ok()) ok.fetch_add(1);
      completions.fetch_add(1);
    }));
    if (i % 16 == 0) worker.Tell(FinishWork{});
  }
  worker.Tell(FinishWork{});
  int cancelled = 0;
  for (AskHandle& h : handles) cancelled += h.Cancel() ? 1 : 0;
  worker.Tell(FinishWork{});
  auto seen = system.Ask(worker, CancelledIds{}, absl::Seconds(10)).get();
  ASSERT_TRUE(seen.ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Real time: the callbacks run on the system's worker threads.
  while (completions.load() < kAsks && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(completions.load(), kAsks);
  EXPECT_EQ(ok.load() + cancelled, kAsks);
}

TEST(AskTest, DroppedPromiseFailsTheRequestAtOnce) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto r = t.system().Ask(calc, Ignore{}, absl::Hours(1));
  t.RunUntilIdle();
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(AskTest, AskingAStoppedActorFailsAtOnceWithNotFound) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  calc.Stop();
  t.RunUntilIdle();
  auto r = t.system().Ask(calc, Add{1, 1}, absl::Hours(1));
  // No turn, no clock movement needed: the answer is already there.
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(t.system().dead_letters().count(), 1u);
}

TEST(AskTest, PendingRequestsFailWhenTheResponderStops) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto kept = t.system().Ask(calc, Never{}, absl::Hours(1));
  t.RunUntilIdle();
  auto queued = t.system().Ask(calc, Add{1, 2}, absl::Hours(1));
  calc.Stop();  // overtakes the queued Add
  t.RunUntilIdle();
  EXPECT_THAT(kept.get(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(queued.get(), StatusIs(absl::StatusCode::kNotFound));
}

TEST(AskTest, AnsweredAsksDoNotKeepTheirTimersUntilTheDeadline) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  for (int i = 0; i < 20000; ++i) {
    auto r = t.system().Ask(calc, Add{i, 1}, absl::Hours(1));
    t.RunUntilIdle();
    ASSERT_THAT(r.get(), IsOkAndHolds(i + 1));
  }
  // Each answered ask cancels its timer; cancelled timers are compacted away.
  EXPECT_LT(t.scheduler().pending_timers(), 2100u);
}

TEST(AskTest, EmptyRefAskFailsWithNotFound) {
  TestSystem t;
  ActorRef<CalcProtocol> empty;
  EXPECT_THAT(t.system().Ask(empty, Add{1, 1}, absl::Seconds(1)).get(),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---- Asks from actors: callback form and coroutine form ----

struct Compute {};
struct Poke {
  int id;
};
struct Result {
  std::vector<std::string> log;
};
using ClientProtocol = Protocol<Request<Compute, Result>, Poke>;

// Asks two sums sequentially with co_await; logs other messages handled while suspended.
class CoroutineClient : public Actor<CoroutineClient, ClientProtocol> {
 public:
  explicit CoroutineClient(ActorRef<CalcProtocol> calc) : calc_(std::move(calc)) {}

  Task<Result> Handle(Compute) {
    log_.push_back("asking");
    absl::StatusOr<int> a = co_await ctx().Ask(calc_, Add{1, 2}, absl::Seconds(1));
    log_.push_back("a=" + std::to_string(a.value_or(-1)));
    absl::StatusOr<std::string> s = co_await ctx().Ask(calc_, Slow{}, absl::Seconds(1));
    log_.push_back("slow=" +
                   (s.ok() ? *s : std::string(absl::StatusCodeToString(s.status().code()))));
    co_return Result{log_};
  }
  void Handle(Poke p) { log_.push_back("poke" + std::to_string(p.id)); }

 private:
  ActorRef<CalcProtocol> calc_;
  std::vector<std::string> log_;
};

TEST(CoroutineAskTest, SuspendsWithoutBlockingAndInterleavesOtherMessages) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto client = t.system().Spawn<CoroutineClient>(calc).value();
  auto result = t.system().Ask(client, Compute{}, absl::Seconds(10));
  t.RunUntilIdle();
  client.Tell(Poke{1});  // handled while Compute waits for the slow reply
  t.RunUntilIdle();
  calc.Tell(ReleaseSlow{});
  t.RunUntilIdle();
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->log, ::testing::ElementsAre("asking", "a=3", "poke1", "slow=done"));
}

TEST(CoroutineAskTest, TimeoutResumesWithDeadlineExceeded) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto client = t.system().Spawn<CoroutineClient>(calc).value();
  auto result = t.system().Ask(client, Compute{}, absl::Seconds(10));
  t.RunUntilIdle();
  t.AdvanceClock(absl::Seconds(1));  // the Slow ask times out
  auto r = result.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->log, ::testing::ElementsAre("asking", "a=3", "slow=DEADLINE_EXCEEDED"));
}

// An actor that stops while its coroutine is suspended: the coroutine frame is destroyed (its
// locals' destructors run) and nothing leaks (checked under ASan).
struct Tracker {
  explicit Tracker(int* destroyed) : destroyed(destroyed) {}
  Tracker(Tracker&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  ~Tracker() {
    if (destroyed != nullptr) ++*destroyed;
  }
  int* destroyed;
};
struct Wait {};
using WaiterProtocol = Protocol<Wait>;
class Waiter : public Actor<Waiter, WaiterProtocol> {
 public:
  Waiter(ActorRef<CalcProtocol> calc, int* destroyed)
      : calc_(std::move(calc)), destroyed_(destroyed) {}
  Task<> Handle(Wait) {
    Tracker local(destroyed_);
    co_await Inner();
  }
  Task<> Inner() {
    Tracker inner_local(destroyed_);
    (void)co_await ctx().Ask(calc_, Never{}, absl::Hours(1));
    ADD_FAILURE() << "must not resume after its actor stopped";
  }

 private:
  ActorRef<CalcProtocol> calc_;
  int* destroyed_;
};

TEST(CoroutineAskTest, StoppingWhileSuspendedDestroysTheCoroutineChain) {
  int destroyed = 0;
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto waiter = t.system().Spawn<Waiter>(calc, &destroyed).value();
  waiter.Tell(Wait{});
  t.RunUntilIdle();
  EXPECT_EQ(destroyed, 0);
  waiter.Stop();
  t.RunUntilIdle();
  calc.Stop();  // drops the Never promise: the reply cannot be delivered to the stopped waiter
  t.RunUntilIdle();
  EXPECT_EQ(destroyed, 2);
}

// Coroutine asks with messages that hold strings (short ones live inside the std::string,
// long ones on the heap), passed as named variables: the g++ 12 co_await caveat in task.h.
struct Shout {
  std::string text;
};
using ShoutProtocol = Protocol<Request<Shout, std::string>>;
class Echoer : public Actor<Echoer, ShoutProtocol> {
 public:
  std::string Handle(Shout s) { return s.text + "!"; }
};
struct Relay {
  std::string text;
};
using RelayProtocol = Protocol<Request<Relay, std::string>>;
class Relayer : public Actor<Relayer, RelayProtocol> {
 public:
  explicit Relayer(ActorRef<ShoutProtocol> echo) : echo_(std::move(echo)) {}
  Task<std::string> Handle(Relay r) {
    Shout first{r.text};
    absl::StatusOr<std::string> a = co_await ctx().Ask(echo_, first, absl::Seconds(1));
    Shout second{"tiny"};
    absl::StatusOr<std::string> b = co_await ctx().Ask(echo_, second, absl::Seconds(1));
    co_return a.value_or("?") + "|" + b.value_or("?");
  }

 private:
  ActorRef<ShoutProtocol> echo_;
};

TEST(CoroutineAskTest, MessagesWithStringsSurviveTheSuspension) {
  TestSystem t;
  auto echo = t.system().Spawn<Echoer>().value();
  auto relay = t.system().Spawn<Relayer>(echo).value();
  const std::string long_text(100, 'x');
  auto r1 = t.system().Ask(relay, Relay{long_text}, absl::Seconds(5));
  auto r2 = t.system().Ask(relay, Relay{"short"}, absl::Seconds(5));
  t.RunUntilIdle();
  EXPECT_THAT(r1.get(), IsOkAndHolds(long_text + "!|tiny!"));
  EXPECT_THAT(r2.get(), IsOkAndHolds("short!|tiny!"));
}

// Callback form.
struct Go {};
using CallbackProtocol = Protocol<Go>;
class CallbackClient : public Actor<CallbackClient, CallbackProtocol> {
 public:
  CallbackClient(ActorRef<CalcProtocol> calc, std::vector<std::string>* out)
      : calc_(std::move(calc)), out_(out) {}
  void Handle(Go) {
    ctx().Ask(calc_, Add{20, 22}, absl::Seconds(1), [this](absl::StatusOr<int> r) {
      out_->push_back("sum " + std::to_string(r.value_or(-1)));
    });
    ctx().Ask(calc_, Slow{}, absl::Seconds(2), [this](absl::StatusOr<std::string> r) {
      out_->push_back(std::string(absl::StatusCodeToString(r.status().code())));
    });
  }

 private:
  ActorRef<CalcProtocol> calc_;
  std::vector<std::string>* out_;
};

TEST(CallbackAskTest, ContinuationsRunOnTheAsker) {
  std::vector<std::string> out;
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto client = t.system().Spawn<CallbackClient>(calc, &out).value();
  client.Tell(Go{});
  t.RunUntilIdle();
  EXPECT_THAT(out, ::testing::ElementsAre("sum 42"));
  t.AdvanceClock(absl::Seconds(2));
  EXPECT_THAT(out, ::testing::ElementsAre("sum 42", "DEADLINE_EXCEEDED"));
}

// A coroutine handler that throws stops its actor and fails the pending request.
struct Explode {};
using ExplodeProtocol = Protocol<Request<Explode, int>>;
class Exploder : public Actor<Exploder, ExplodeProtocol> {
 public:
  explicit Exploder(ActorRef<CalcProtocol> calc) : calc_(std::move(calc)) {}
  Task<int> Handle(Explode) {
    (void)co_await ctx().Ask(calc_, Add{1, 1}, absl::Seconds(1));
    throw std::runtime_error("kaboom");
  }

 private:
  ActorRef<CalcProtocol> calc_;
};

TEST(CoroutineAskTest, AThrowingCoroutineStopsItsActorAndFailsTheRequest) {
  TestSystem t;
  auto calc = t.system().Spawn<Calculator>().value();
  auto ex = t.system().Spawn<Exploder>(calc).value();
  auto r = t.system().Ask(ex, Explode{}, absl::Seconds(1));
  t.RunUntilIdle();
  EXPECT_THAT(r.get(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(ex.stopped());
  EXPECT_EQ(t.system().stats().failures, 1u);
}

}  // namespace
}  // namespace troupe
